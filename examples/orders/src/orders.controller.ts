import { BadRequestException, Body, Controller, Get, HttpCode, Param, ParseUUIDPipe, Post } from '@nestjs/common';
import { z } from 'zod';
import { OrdersService } from './orders.service.js';

const placeOrderBody = z.object({
  customerId: z.string().min(1).max(100),
  amountCents: z.number().int().positive().max(100_000_000),
  currency: z.enum(['EUR', 'USD', 'GBP']).default('EUR'),
  eventVersion: z.union([z.literal(1), z.literal(2)]).default(2),
});

@Controller('orders')
export class OrdersController {
  constructor(private readonly orders: OrdersService) {}

  @Post()
  @HttpCode(201)
  place(@Body() body: unknown) {
    const parsed = placeOrderBody.safeParse(body);
    if (!parsed.success) throw new BadRequestException(z.prettifyError(parsed.error));
    if (parsed.data.eventVersion === 1 && parsed.data.currency !== 'EUR') {
      throw new BadRequestException('OrderPlaced v1 carries euros only');
    }
    return this.orders.place(parsed.data);
  }

  @Get(':id')
  find(@Param('id', new ParseUUIDPipe()) id: string) {
    return this.orders.find(id);
  }
}
