export async function importCommand(
  _file: string | undefined,
  _options: { tenant: string; strict?: boolean; progress?: boolean },
): Promise<void> {}
