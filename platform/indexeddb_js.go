package platform

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"syscall/js"
	"time"
)

// The object stores of the database.
const (
	idbFiles  = "files"  // file name -> Uint8Array, the file's content
	idbStamps = "stamps" // file name -> string, a new random stamp at each write
	idbKeys   = "keys"   // name -> CryptoKey (non-extractable)
	idbVer    = 1
)

// IndexedDB is the browser's side of the storage seam (vault.Storage,
// [Storage]): small files kept in one IndexedDB database, one record per
// file, each replaced in one transaction with a new stamp, and locks that
// are Web Locks, which every tab of the origin respects. It needs a secure
// context (HTTPS, or localhost) for Web Locks.
//
// Its methods block until the browser answers: call them from a goroutine
// of the app, never from inside a JavaScript callback.
type IndexedDB struct {
	name string
	db   js.Value
}

var _ Storage = (*IndexedDB)(nil)

// OpenIndexedDB opens (making it the first time) the database called name
// and asks the browser, once per start, to keep the origin's storage
// persistent (navigator.storage.persist), so that it is not evicted under
// storage pressure; the answer is not waited for.
func OpenIndexedDB(name string) (*IndexedDB, error) {
	factory := js.Global().Get("indexedDB")
	if !defined(factory) {
		return nil, fmt.Errorf("%w: this browser has no IndexedDB", ErrUnsupported)
	}
	req, err := call(factory, "open", name, idbVer)
	if err != nil {
		return nil, fmt.Errorf("platform: open IndexedDB %s: %w", name, err)
	}
	done := make(chan error, 1)
	upgrade := js.FuncOf(func(js.Value, []js.Value) any {
		// Runs in the upgrade transaction: make what is missing.
		db := req.Get("result")
		for _, s := range []string{idbFiles, idbStamps, idbKeys} {
			if !db.Get("objectStoreNames").Call("contains", s).Bool() {
				db.Call("createObjectStore", s)
			}
		}
		return nil
	})
	success := js.FuncOf(func(js.Value, []js.Value) any { send(done, nil); return nil })
	failure := js.FuncOf(func(js.Value, []js.Value) any { send(done, toError(req.Get("error"))); return nil })
	blocked := js.FuncOf(func(js.Value, []js.Value) any {
		send(done, errors.New("platform: IndexedDB is held at an older version by another tab"))
		return nil
	})
	defer upgrade.Release()
	defer success.Release()
	defer failure.Release()
	defer blocked.Release()
	req.Set("onupgradeneeded", upgrade)
	req.Set("onsuccess", success)
	req.Set("onerror", failure)
	req.Set("onblocked", blocked)
	if err := <-done; err != nil {
		return nil, fmt.Errorf("platform: open IndexedDB %s: %w", name, err)
	}
	db := req.Get("result")
	// A later version opened in another tab asks this one to let go.
	db.Set("onversionchange", js.FuncOf(func(js.Value, []js.Value) any { db.Call("close"); return nil }))
	go askPersist()
	return &IndexedDB{name: name, db: db}, nil
}

// send sends without blocking (a callback must not wait).
func send(ch chan error, err error) {
	select {
	case ch <- err:
	default:
	}
}

// askPersist asks once for persistent storage, when it is not already.
func askPersist() {
	st := js.Global().Get("navigator").Get("storage")
	if !defined(st) || st.Get("persist").Type() != js.TypeFunction {
		return
	}
	if ok, err := callAwait(st, "persisted"); err == nil && ok.Truthy() {
		return
	}
	callAwait(st, "persist")
}

// Persisted reports whether the browser keeps this origin's storage
// persistent (it will not evict it under storage pressure).
func (d *IndexedDB) Persisted() (bool, error) {
	st := js.Global().Get("navigator").Get("storage")
	if !defined(st) || st.Get("persisted").Type() != js.TypeFunction {
		return false, ErrUnsupported
	}
	ok, err := callAwait(st, "persisted")
	return err == nil && ok.Truthy(), err
}

// String names the database, for messages.
func (d *IndexedDB) String() string { return "IndexedDB " + d.name }

// tx runs one transaction over stores: issue makes its requests (at once,
// while the transaction is active) and tx waits until it commits, then
// returns each request's result. A readwrite transaction is durable
// ("strict"): committed to disk before it completes.
func (d *IndexedDB) tx(mode string, stores []any, issue func(tx js.Value) ([]js.Value, error)) ([]js.Value, error) {
	opts := map[string]any{}
	if mode == "readwrite" {
		opts["durability"] = "strict"
	}
	tx, err := call(d.db, "transaction", stores, mode, opts)
	if err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	complete := js.FuncOf(func(js.Value, []js.Value) any { send(done, nil); return nil })
	failed := js.FuncOf(func(js.Value, []js.Value) any {
		err := tx.Get("error")
		if !defined(err) {
			send(done, errors.New("platform: IndexedDB transaction aborted"))
		} else {
			send(done, toError(err))
		}
		return nil
	})
	defer complete.Release()
	defer failed.Release()
	tx.Set("oncomplete", complete)
	tx.Set("onerror", failed)
	tx.Set("onabort", failed)
	reqs, err := issue(tx)
	if err != nil {
		call(tx, "abort")
		<-done
		return nil, err
	}
	if err := <-done; err != nil {
		return nil, err
	}
	out := make([]js.Value, len(reqs))
	for i, r := range reqs {
		out[i] = r.Get("result")
	}
	return out, nil
}

func store(tx js.Value, name string) (js.Value, error) { return call(tx, "objectStore", name) }

func checkFileName(name string) error {
	if name == "" || name == "." || name == ".." {
		return fmt.Errorf("platform: bad file name %q", name)
	}
	for _, c := range name {
		if c == '/' || c == '\\' || c < ' ' {
			return fmt.Errorf("platform: bad file name %q", name)
		}
	}
	return nil
}

func notExist(name string) error { return fmt.Errorf("platform: %s: %w", name, fs.ErrNotExist) }

// Read returns the file called name, at most limit bytes, and its stamp,
// read in one transaction. now is not needed: every write gives a new
// stamp.
func (d *IndexedDB) Read(name string, limit int64, now time.Time) ([]byte, string, error) {
	if err := checkFileName(name); err != nil {
		return nil, "", err
	}
	res, err := d.tx("readonly", []any{idbFiles, idbStamps}, func(tx js.Value) ([]js.Value, error) {
		var reqs []js.Value
		for _, s := range []string{idbFiles, idbStamps} {
			st, err := store(tx, s)
			if err != nil {
				return nil, err
			}
			r, err := call(st, "get", name)
			if err != nil {
				return nil, err
			}
			reqs = append(reqs, r)
		}
		return reqs, nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("platform: read %s: %w", name, err)
	}
	if !defined(res[0]) {
		return nil, "", notExist(name)
	}
	data, err := fromJS(res[0], int(min(limit, 1<<31-1)))
	if err != nil {
		return nil, "", fmt.Errorf("%w: %s is not a file", ErrDamaged, name)
	}
	stamp := ""
	if res[1].Type() == js.TypeString {
		stamp = res[1].String()
	}
	return data, stamp, nil
}

// Stamp returns the stamp of the file called name, without reading it.
func (d *IndexedDB) Stamp(name string) (string, error) {
	if err := checkFileName(name); err != nil {
		return "", err
	}
	res, err := d.tx("readonly", []any{idbFiles, idbStamps}, func(tx js.Value) ([]js.Value, error) {
		var reqs []js.Value
		files, err := store(tx, idbFiles)
		if err != nil {
			return nil, err
		}
		r, err := call(files, "count", name) // present, without reading it
		if err != nil {
			return nil, err
		}
		reqs = append(reqs, r)
		stamps, err := store(tx, idbStamps)
		if err != nil {
			return nil, err
		}
		if r, err = call(stamps, "get", name); err != nil {
			return nil, err
		}
		return append(reqs, r), nil
	})
	if err != nil {
		return "", fmt.Errorf("platform: stamp of %s: %w", name, err)
	}
	if res[0].Int() == 0 {
		return "", notExist(name)
	}
	if res[1].Type() != js.TypeString {
		return "", nil
	}
	return res[1].String(), nil
}

// Replace replaces (or makes) the file called name with data and gives it
// a new stamp, in one durable transaction: a crash or a closed tab leaves
// the old record or the new one.
func (d *IndexedDB) Replace(name string, data []byte) error {
	if err := checkFileName(name); err != nil {
		return err
	}
	var r [16]byte
	rand.Read(r[:])
	stamp := hex.EncodeToString(r[:])
	_, err := d.tx("readwrite", []any{idbFiles, idbStamps}, func(tx js.Value) ([]js.Value, error) {
		files, err := store(tx, idbFiles)
		if err != nil {
			return nil, err
		}
		if _, err := call(files, "put", toJS(data), name); err != nil {
			return nil, err
		}
		stamps, err := store(tx, idbStamps)
		if err != nil {
			return nil, err
		}
		_, err = call(stamps, "put", stamp, name)
		return nil, err
	})
	if err != nil {
		return fmt.Errorf("platform: write %s: %w", name, err)
	}
	return nil
}

// TryLock takes the Web Lock called name (scoped to this database) without
// waiting: every tab of the origin respects it, and the browser releases
// it when the tab closes. ok is false when another holder, in this tab or
// another, has it. unlock returns once the lock is free again.
func (d *IndexedDB) TryLock(name string) (unlock func(), ok bool, err error) {
	locks := js.Global().Get("navigator").Get("locks")
	if !defined(locks) {
		return nil, false, fmt.Errorf("%w: this browser has no Web Locks (the app needs HTTPS)", ErrUnsupported)
	}
	type grant struct {
		ok      bool
		release js.Value
	}
	got := make(chan grant, 1)
	failed := make(chan error, 1)
	var executor js.Func
	held := js.FuncOf(func(_ js.Value, a []js.Value) any {
		if !defined(arg(a)) {
			got <- grant{}
			return nil
		}
		// The lock is held until the promise returned here settles.
		var release js.Value
		executor = js.FuncOf(func(_ js.Value, a []js.Value) any { release = arg(a); return nil })
		p := js.Global().Get("Promise").New(executor)
		got <- grant{ok: true, release: release}
		return p
	})
	catch := js.FuncOf(func(_ js.Value, a []js.Value) any { send(failed, toError(arg(a))); return nil })
	p, err := call(locks, "request", "ibkey:"+d.name+":"+name, map[string]any{"ifAvailable": true, "mode": "exclusive"}, held)
	if err != nil {
		held.Release()
		catch.Release()
		return nil, false, fmt.Errorf("platform: lock %s: %w", name, err)
	}
	p.Call("catch", catch)
	select {
	case g := <-got:
		if !g.ok {
			held.Release()
			catch.Release()
			return nil, false, nil
		}
		var once sync.Once
		return func() {
			once.Do(func() {
				// The request's promise settles once the lock is let go:
				// wait for it, so that the next TryLock finds it free.
				g.release.Invoke()
				await(p)
				held.Release()
				executor.Release()
				catch.Release()
			})
		}, true, nil
	case err := <-failed:
		held.Release()
		catch.Release()
		return nil, false, fmt.Errorf("platform: lock %s: %w", name, err)
	}
}
