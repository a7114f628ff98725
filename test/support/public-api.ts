import { join } from 'node:path';
import ts from 'typescript';
import { ROOT } from './cli.js';

/** The package entry points (package.json `exports`) and their source files. */
export const ENTRY_POINTS = {
  certbound: 'src/index.ts',
  'certbound/http': 'src/http/index.ts',
  'certbound/grpc': 'src/grpc/index.ts',
} as const;

/** One public export: its name, whether it is type-only, and its TSDoc summary. */
export interface PublicExport {
  readonly name: string;
  readonly kind: 'value' | 'type';
  readonly summary: string;
}

/** Every export of every entry point, read with the TypeScript compiler (sorted by name). */
export function publicApi(): Record<keyof typeof ENTRY_POINTS, PublicExport[]> {
  const files = Object.values(ENTRY_POINTS).map((f) => join(ROOT, f));
  const program = ts.createProgram(files, {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    skipLibCheck: true,
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  const out = {} as Record<keyof typeof ENTRY_POINTS, PublicExport[]>;
  for (const [entry, file] of Object.entries(ENTRY_POINTS) as [
    keyof typeof ENTRY_POINTS,
    string,
  ][]) {
    const source = program.getSourceFile(join(ROOT, file));
    const moduleSymbol = source && checker.getSymbolAtLocation(source);
    if (moduleSymbol === undefined) throw new Error(`${file} did not load`);
    out[entry] = checker
      .getExportsOfModule(moduleSymbol)
      .map((symbol) => {
        const target =
          symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
        const isValue = (target.flags & ts.SymbolFlags.Value) !== 0;
        const doc = ts.displayPartsToString(target.getDocumentationComment(checker));
        const summary =
          doc
            .split(/\n\s*\n/)[0]
            ?.replace(/\s+/g, ' ')
            .trim() ?? '';
        return {
          name: symbol.name,
          kind: isValue ? ('value' as const) : ('type' as const),
          summary,
        };
      })
      .sort((a, b) => a.name.localeCompare(b.name));
  }
  return out;
}
