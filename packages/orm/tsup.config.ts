import { libraryBuild } from '../../tsup.base.js';

export default libraryBuild(['src/prisma.ts', 'src/drizzle.ts', 'src/kysely.ts', 'src/knex.ts', 'src/mikro-orm.ts']);
