// The console's entry: a hash router over three pages (jobs, one job, workers)
// and the token form shown whenever the coordinator asks for a client token.
import { render } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { coordinatorClient, savedToken, saveToken } from './client.js';
import { JobPage } from './job-page.js';
import { JobsPage } from './jobs-page.js';
import { WorkersPage } from './workers-page.js';
import './style.css';

type Route = { page: 'jobs' } | { page: 'job'; id: string } | { page: 'workers' };

function routeOf(hash: string): Route {
  const job = /^#\/jobs\/([^/]+)$/.exec(hash);
  if (job) return { page: 'job', id: decodeURIComponent(job[1]!) };
  if (hash === '#/workers') return { page: 'workers' };
  return { page: 'jobs' };
}

/** Asks for the client token; the page loads no data until the coordinator accepts one. */
function TokenForm(props: { onToken: () => void; refused: boolean }) {
  const [token, setToken] = useState('');
  return (
    <form
      class="token"
      onSubmit={(e) => {
        e.preventDefault();
        saveToken(token.trim());
        props.onToken();
      }}
    >
      <h2>Client token required</h2>
      <p>
        {props.refused && savedToken() ? 'The coordinator refused this token. ' : ''}
        This coordinator has authentication on: enter a client token (kept in this tab only).
      </p>
      <input
        type="password"
        name="token"
        autocomplete="off"
        value={token}
        onInput={(e) => setToken((e.target as HTMLInputElement).value)}
      />
      <button type="submit">Open</button>
    </form>
  );
}

function App() {
  const [route, setRoute] = useState(routeOf(location.hash));
  const [locked, setLocked] = useState(false);
  // A new client (and fresh page state) after each token change.
  const [generation, setGeneration] = useState(0);
  const client = useMemo(() => coordinatorClient(), [generation]);
  useEffect(() => {
    const onHash = () => setRoute(routeOf(location.hash));
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  const page = { client, onLocked: () => setLocked(true) };
  return (
    <>
      <header>
        <a href="#/" class="brand">
          avspl1t
        </a>
        <nav>
          <a href="#/" class={route.page !== 'workers' ? 'active' : ''}>
            Jobs
          </a>
          <a href="#/workers" class={route.page === 'workers' ? 'active' : ''}>
            Workers
          </a>
        </nav>
      </header>
      <main key={generation}>
        {locked ? (
          <TokenForm
            refused={locked}
            onToken={() => {
              setLocked(false);
              setGeneration((g) => g + 1);
            }}
          />
        ) : route.page === 'job' ? (
          <JobPage {...page} id={route.id} key={route.id} />
        ) : route.page === 'workers' ? (
          <WorkersPage {...page} />
        ) : (
          <JobsPage {...page} />
        )}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
