// A statement as pg's query config: with a `name`, each connection parses and
// plans it once and afterwards only binds the values (a named prepared statement).

/** One SQL statement with its values; `text` is fixed per `name`. */
export interface Statement {
  name: string;
  text: string;
  values: unknown[];
}

const PREFIX = 'avspl1t_';

/** The statement `name` with `text` (`$n` placeholders) and `values`. */
export function statement(name: string, text: string, values: unknown[]): Statement {
  return { name: `${PREFIX}${name}`, text, values };
}

/**
 * Writes as one statement, each a data-modifying CTE: one message to send and one
 * for the server to run instead of one each. They all see the rows as they were
 * before the statement, so no two of them may change the same row.
 */
export function oneStatement(writes: readonly Statement[]): Statement {
  if (writes.length === 1) return writes[0]!;
  const values: unknown[] = [];
  const parts = writes.map((w, i) => {
    const shift = values.length;
    values.push(...w.values);
    return `w${i} as (${w.text.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + shift}`)})`;
  });
  const name = writes.map((w) => w.name.slice(PREFIX.length)).join('+');
  return statement(name, `with ${parts.join(', ')} select 1`, values);
}
