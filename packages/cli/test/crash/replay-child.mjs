// Replays a group's dead letters in its own process and stops dead at the worst moment: every
// copy published and confirmed, none of the dead-letter originals acked yet. When replay goes to
// ack the first original it prints `ACKING` and blocks, so the test can SIGKILL it right there.
//
//   TXBOX_AMQP_URL, TXBOX_GROUP (required)
import { createInboxAdmin } from '@txbox/inbox';
import amqplib from 'amqplib';
import { announceReady, requiredEnv } from '../../../../test-support/child-process.mjs';

// amqplib exports no channel classes: reach the confirm channel's prototype through an instance.
const probe = await amqplib.connect(requiredEnv('TXBOX_AMQP_URL'));
const confirmChannelPrototype = Object.getPrototypeOf(await probe.createConfirmChannel());
await probe.close();
confirmChannelPrototype.ack = function blockBeforeAck() {
  process.stdout.write('ACKING\n');
  // Block the event loop: nothing more reaches the broker until the test kills this process.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
};

const admin = createInboxAdmin({ amqp: requiredEnv('TXBOX_AMQP_URL') });
announceReady();
await admin.deadLetters.replay(requiredEnv('TXBOX_GROUP'), { all: true });
