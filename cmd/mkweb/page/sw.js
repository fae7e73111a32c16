// sw.js, the service worker of the ibkey web app: it keeps the app
// working offline. On install it stores this build's files in a cache of
// its own; it answers the app's requests from that cache first; on
// activate, which happens on the next start after a new build is found,
// it deletes the caches of older builds. Requests outside the app (the
// service's API) always go to the network.
'use strict';
const build = '{{.Version}}';
const cacheName = 'ibkey-app-' + build;
const files = {{.Files}};

self.addEventListener('install', (event) => {
	event.waitUntil(caches.open(cacheName).then((cache) => cache.addAll(files)));
});

self.addEventListener('activate', (event) => {
	event.waitUntil(caches.keys().then((names) => Promise.all(
		names.filter((n) => n.startsWith('ibkey-app-') && n !== cacheName).map((n) => caches.delete(n)),
	)).then(() => self.clients.claim()));
});

self.addEventListener('fetch', (event) => {
	const req = event.request;
	const url = new URL(req.url);
	const scope = new URL(self.registration.scope);
	if (req.method !== 'GET' || url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname)) {
		return;
	}
	// The page, whatever its query and fragment, is the page of this build.
	const key = req.mode === 'navigate' ? scope.href : req;
	event.respondWith(caches.open(cacheName).then((cache) =>
		cache.match(key, {ignoreSearch: req.mode === 'navigate'}).then((hit) => hit || fetch(req)),
	));
});
