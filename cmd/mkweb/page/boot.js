// boot.js starts the ibkey app: it registers the service worker that keeps
// the app working offline, then loads and runs the WebAssembly module.
// Versioned by the build; the module's name is filled in there.
'use strict';
(() => {
	const wasm = '{{.Wasm}}';
	const splash = document.getElementById('splash');
	const status = document.getElementById('status');
	const fail = (text) => {
		splash.hidden = false;
		splash.className = 'error';
		status.textContent = text;
	};

	if ('serviceWorker' in navigator) {
		navigator.serviceWorker.register('sw.js', {scope: './'}).catch((err) => {
			console.warn('ibkey: no offline mode:', err.message);
		});
	}
	if (typeof WebAssembly !== 'object' || typeof Go !== 'function') {
		fail('This browser cannot run IB Key: it has no WebAssembly.');
		return;
	}
	if (!document.createElement('canvas').getContext('webgl')) {
		fail('This browser cannot run IB Key: WebGL is off.');
		return;
	}

	// The app's command line: ?demo runs the in-memory demo, ?flavor=ios
	// or ?flavor=android chooses the look (else it follows the browser).
	const q = new URLSearchParams(location.search);
	const go = new Go();
	go.argv = ['ibkey-app'];
	if (q.has('demo')) {
		go.argv.push('--demo');
	}
	const flavor = q.get('flavor');
	if (flavor === 'ios' || flavor === 'android') {
		go.argv.push('--flavor', flavor);
	}
	// The service is the origin that served the app.
	go.env = {IBKEY_SERVICE: location.origin};

	// The splash goes when the app makes its canvas. The canvas's box is
	// the screen less the home indicator's strip (style.css): a resize
	// event makes the app measure it again.
	new MutationObserver((_, obs) => {
		if (document.querySelector('canvas')) {
			splash.hidden = true;
			obs.disconnect();
			setTimeout(() => dispatchEvent(new Event('resize')), 0);
		}
	}).observe(document.body, {childList: true});

	status.textContent = 'Loading…';
	WebAssembly.instantiateStreaming(fetch(wasm), go.importObject).then((result) => {
		performance.mark('ibkey-instantiated'); // downloaded and compiled
		const mem = result.instance.exports.mem;
		// For measurements (scripts/web-bench.sh): the module's memory.
		globalThis.ibkeyWasmMemory = () => mem.buffer.byteLength;
		return go.run(result.instance);
	}).then(() => {
		fail('IB Key stopped. Reload the page to start it again.');
	}, (err) => {
		fail('IB Key could not start: ' + err.message);
	});
})();
