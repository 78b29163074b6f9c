// A statement as pg's query config: with a `name`, each connection parses and
// plans it once and afterwards only binds the values (a named prepared statement).

/** One SQL statement with its values; `text` is fixed per `name`. */
export interface Statement {
  name: string;
  text: string;
  values: unknown[];
  /** 'array': each row comes as an array of its columns (pg's `rowMode`), not an object. */
  rowMode?: 'array';
}

/** The statement `name` with `text` (`$n` placeholders) and `values`. */
export function statement(name: string, text: string, values: unknown[]): Statement {
  return { name: `avspl1t_${name}`, text, values };
}

/**
 * The text of writes run as one statement, each a data-modifying CTE: one
 * message to send and one for the server to run instead of one each. Their
 * `$n` are numbered on, each text after the ones before it, so the values are
 * the writes' values in order. They all see the rows as they were before the
 * statement, so no two of them may change the same row.
 */
export function oneStatementText(texts: readonly string[]): string {
  let shift = 0;
  const parts = texts.map((text, i) => {
    const numbers = [...text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1]));
    const renumbered = text.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + shift}`);
    shift += Math.max(0, ...numbers);
    return `w${i} as (${renumbered})`;
  });
  return `with ${parts.join(', ')} select 1`;
}
