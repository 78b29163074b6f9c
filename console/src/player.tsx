// Plays a job's HLS output with hls.js (AV1 in fMP4 through Media Source
// Extensions). Output served by the coordinator needs the tab's token.
import Hls from 'hls.js';
import { useEffect, useRef, useState } from 'preact/hooks';
import { savedToken } from './client.js';

export function Player(props: { url: string }) {
  const video = useRef<HTMLVideoElement>(null);
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    const el = video.current;
    if (!el) return undefined;
    if (!Hls.isSupported()) {
      setError('this browser has no Media Source Extensions for hls.js');
      return undefined;
    }
    const sameOrigin = new URL(props.url, location.href).origin === location.origin;
    const hls = new Hls({
      xhrSetup: (xhr) => {
        const token = savedToken();
        // Only the coordinator gets the token, never a bucket.
        if (sameOrigin && token) xhr.setRequestHeader('authorization', `Bearer ${token}`);
      },
    });
    hls.on(Hls.Events.ERROR, (_e, data) => {
      if (data.fatal) setError(`${data.type}: ${data.details}`);
    });
    hls.loadSource(props.url);
    hls.attachMedia(el);
    return () => hls.destroy();
  }, [props.url]);
  return (
    <div class="player">
      <video ref={video} id="player" controls muted playsInline width={640} />
      {error ? <p class="error">Player: {error}</p> : null}
      <p class="muted">
        <a href={props.url}>{props.url}</a>
      </p>
    </div>
  );
}
