// Loads the Amazon IVS web player only when the page asks for it (`?ivs=URL`). The npm package is
// CommonJS, so the segment server serves it as one classic script (tools/cjs-bundle.mjs) that sets
// the global `IVSPlayer`; its wasm worker is served from the same package. No CDN.

let loading = null;

/** Resolves to the `amazon-ivs-player` module (`create`, `isPlayerSupported`, `PlayerEventType`...). */
export function loadIvsPlayer() {
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      if (window.IVSPlayer) {
        resolve(window.IVSPlayer);
        return;
      }
      const script = document.createElement('script');
      script.src = new URL('../vendor/amazon-ivs-player.js', import.meta.url).href;
      script.onload = () =>
        window.IVSPlayer ? resolve(window.IVSPlayer) : reject(new Error('the IVS player script set no IVSPlayer'));
      script.onerror = () => reject(new Error('the IVS web player is not served here (npm install in player/?)'));
      document.head.append(script);
    });
  }
  return loading;
}
