// keyboard.js brings a phone's keyboard to the app's text fields.
//
// The app draws on a canvas. When one of its fields takes the focus on a
// phone, Fyne focuses the hidden #dummyEntry so that the keyboard opens.
// A desktop keyboard sends key events, which Fyne reads; a phone keyboard
// (an input method) mostly does not: it puts text into the focused field,
// with key events of keyCode 229 that say nothing. This script watches
// what the keyboard does to #dummyEntry and sends it on to the app:
// globalThis.ibkeyKeyboard(deleted, inserted), registered by the app
// (app/web), erases `deleted` characters before the cursor of the app's
// focused field, then types `inserted`.
//
// #dummyEntry holds one sentinel character, so that Backspace always has
// something to delete and says so with an input event. While a word is
// being composed (a suggestion bar, a Chinese or Japanese input method),
// each change goes to the app as it happens, and the field is emptied
// again when the word is done. Typed secrets stay in the field only while
// they are composed: password fields are not.
//
// Before the module starts, #dummyEntry's focus method is wrapped so that
// each time the app focuses a field the keyboard gets the field's kind:
// the number pad for digits, no suggestions for a password.
//
// iOS opens the keyboard only for a focus given while the page handles a
// touch, and the app focuses its field a moment after. So at the end of a
// touch on one of the app's text fields (globalThis.ibkeyFieldAt(x, y)
// says which kind, "" for none) the hidden field takes the focus at once.
'use strict';
(() => {
	const input = document.getElementById('dummyEntry');
	if (!input) {
		return;
	}
	const sentinel = '\u00a0';
	let last = sentinel;
	let composing = false;

	const reset = () => {
		input.value = sentinel;
		last = sentinel;
		try {
			input.setSelectionRange(sentinel.length, sentinel.length);
		} catch (_) {
			// Some input types have no selection.
		}
	};

	// Sends the change from last to now: the characters erased at the end
	// of last, then the ones added (characters, not UTF-16 units: an emoji
	// is one).
	const send = (now) => {
		const was = [...last];
		const is = [...now];
		let same = 0;
		while (same < was.length && same < is.length && was[same] === is[same]) {
			same++;
		}
		const deleted = was.length - same;
		const inserted = is.slice(same).join('');
		last = now;
		const to = globalThis.ibkeyKeyboard;
		if ((deleted > 0 || inserted !== '') && typeof to === 'function') {
			to(deleted, inserted);
		}
	};

	input.addEventListener('input', () => {
		send(input.value);
		if (!composing) {
			reset();
		}
	});
	input.addEventListener('compositionstart', () => {
		composing = true;
	});
	input.addEventListener('compositionend', () => {
		composing = false;
		send(input.value);
		reset();
	});
	input.addEventListener('blur', () => {
		composing = false;
		reset();
	});

	// kind: "password", "number" or "text", from the app's focused field.
	const setKind = (kind) => {
		const type = kind === 'password' ? 'password' : 'text';
		const mode = kind === 'number' ? 'numeric' : 'text';
		if (input.type === type && input.inputMode === mode) {
			return false;
		}
		input.type = type;
		input.inputMode = mode;
		reset();
		return true;
	};
	const focus = input.focus.bind(input);
	document.addEventListener('touchend', (event) => {
		const fieldAt = globalThis.ibkeyFieldAt;
		const touch = event.changedTouches[0];
		if (typeof fieldAt !== 'function' || !touch) {
			return;
		}
		const kind = fieldAt(touch.clientX, touch.clientY);
		if (!kind) {
			return;
		}
		if (setKind(kind) && document.activeElement === input) {
			input.blur();
		}
		if (document.activeElement !== input) {
			reset();
			focus();
		}
	}, {passive: true});
	input.focus = (opts) => {
		const kindOf = globalThis.ibkeyFocusKind;
		const changed = typeof kindOf === 'function' && setKind(kindOf());
		if (changed && document.activeElement === input) {
			// The keyboard reads the field's kind when it opens.
			input.blur();
		}
		if (document.activeElement !== input) {
			reset();
		}
		focus(opts);
	};
	reset();
})();
