export function prismaGenerate(schemaPath: string): { ok: boolean; output: string };
