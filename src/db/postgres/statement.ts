// A statement as pg's query config: with a `name`, each connection parses and
// plans it once and afterwards only binds the values (a named prepared statement).

/** One SQL statement with its values; `text` is fixed per `name`. */
export interface Statement {
  name: string;
  text: string;
  values: unknown[];
}

/** The statement `name` with `text` (`$n` placeholders) and `values`. */
export function statement(name: string, text: string, values: unknown[]): Statement {
  return { name: `avspl1t_${name}`, text, values };
}
