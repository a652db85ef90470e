export function prismaGenerate(schemaPath: string, prismaBin?: string): { ok: boolean; output: string };
