package main

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/template"

	"golang.org/x/image/draw"
)

//go:embed page
var pageFS embed.FS

// The app's names and colours on the web.
const (
	appName        = "IB Key"
	appDescription = "IB Key: confirm your logins and answer challenges from this phone."
	// themeColor is the red of the icon; backgroundColor the splash's.
	themeColor      = "#b3261e"
	backgroundColor = "#ffffff"
	// scope is where the service serves the app (webapp.Prefix).
	scope = "/app/"
)

type config struct {
	wasm, wasmExec, icon, out string
	// brotli is the quality of the brotli files (0 to 11); -1 writes no
	// compressed files.
	brotli int
}

// site is a built web app: file names and contents.
type site map[string][]byte

// run builds the web app of c and writes it to c.out.
func run(c config) error {
	mod, err := os.ReadFile(c.wasm)
	if err != nil {
		return err
	}
	exec, err := os.ReadFile(c.wasmExec)
	if err != nil {
		return err
	}
	iconFile, err := os.ReadFile(c.icon)
	if err != nil {
		return err
	}
	icon, err := png.Decode(bytes.NewReader(iconFile))
	if err != nil {
		return fmt.Errorf("icon %s: %w", c.icon, err)
	}
	s, err := build(mod, exec, icon)
	if err != nil {
		return err
	}
	return s.writeTo(c.out, c.brotli)
}

// build makes the web app around the module mod, with Go's wasm_exec.js
// and the app's icon.
func build(mod, wasmExec []byte, icon image.Image) (site, error) {
	b := icon.Bounds()
	if b.Dx() != b.Dy() || b.Dx() < 192 {
		return nil, errors.New("the icon must be square, at least 192 pixels")
	}
	if len(mod) < 8 || !bytes.Equal(mod[:4], []byte("\x00asm")) {
		return nil, errors.New("the module is not WebAssembly")
	}
	s := site{}
	// versioned adds a file under its name with the content's hash.
	versioned := func(name string, data []byte) string {
		sum := sha256.Sum256(data)
		ext := filepath.Ext(name)
		v := strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:6]) + ext
		s[v] = data
		return v
	}
	static := func(name string) []byte {
		data, err := pageFS.ReadFile("page/" + name)
		if err != nil {
			panic(err) // embedded: cannot fail
		}
		return data
	}
	var p page
	p.Name, p.Description, p.ThemeColor = appName, appDescription, themeColor
	p.Wasm = versioned("ibkey.wasm", mod)
	p.WasmExec = versioned("wasm_exec.js", wasmExec)
	p.Keyboard = versioned("keyboard.js", static("keyboard.js"))
	p.Style = versioned("style.css", static("style.css"))
	boot, err := fill("boot.js", static("boot.js"), p)
	if err != nil {
		return nil, err
	}
	p.Boot = versioned("boot.js", boot)

	p.Icon192 = versioned("icon-192.png", encodePNG(resize(icon, 192)))
	p.Icon512 = versioned("icon-512.png", encodePNG(resize(icon, 512)))
	p.Maskable = versioned("icon-maskable-512.png", encodePNG(maskable(icon, 512)))
	p.AppleIcon = versioned("apple-touch-icon.png", encodePNG(maskable(icon, 180)))

	man, err := manifest(p)
	if err != nil {
		return nil, err
	}
	s["manifest.webmanifest"] = man
	index, err := fill("index.html", static("index.html"), p)
	if err != nil {
		return nil, err
	}
	s["index.html"] = index

	// The service worker precaches the page and every file above, and
	// names its cache after all of them.
	files := []string{"./"}
	for name := range s {
		if name != "index.html" {
			files = append(files, name)
		}
	}
	slices.Sort(files[1:])
	h := sha256.New()
	for _, name := range files[1:] {
		fmt.Fprintf(h, "%s\n", name)
	}
	h.Write(man)
	h.Write(index)
	list, err := json.Marshal(files)
	if err != nil {
		return nil, err
	}
	sw, err := fill("sw.js", static("sw.js"), struct {
		Version string
		Files   string
	}{hex.EncodeToString(h.Sum(nil)[:8]), string(list)})
	if err != nil {
		return nil, err
	}
	s["sw.js"] = sw
	return s, nil
}

// page is what the templates of the page, boot.js and the manifest use.
type page struct {
	Name, Description, ThemeColor string
	// The versioned file names.
	Wasm, WasmExec, Keyboard, Style, Boot string
	Icon192, Icon512, Maskable, AppleIcon string
}

// fill executes the template text named name with data.
func fill(name string, text []byte, data any) ([]byte, error) {
	t, err := template.New(name).Option("missingkey=error").Parse(string(text))
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// manifest is the web app manifest: the app installs as a standalone app
// on /app/, with its icons.
func manifest(p page) ([]byte, error) {
	type icon struct {
		Src     string `json:"src"`
		Sizes   string `json:"sizes"`
		Type    string `json:"type"`
		Purpose string `json:"purpose,omitempty"`
	}
	m := struct {
		ID              string   `json:"id"`
		Name            string   `json:"name"`
		ShortName       string   `json:"short_name"`
		Description     string   `json:"description"`
		StartURL        string   `json:"start_url"`
		Scope           string   `json:"scope"`
		Display         string   `json:"display"`
		Orientation     string   `json:"orientation"`
		ThemeColor      string   `json:"theme_color"`
		BackgroundColor string   `json:"background_color"`
		Categories      []string `json:"categories"`
		Icons           []icon   `json:"icons"`
	}{
		ID: scope, Name: p.Name, ShortName: p.Name, Description: p.Description,
		StartURL: scope, Scope: scope, Display: "standalone", Orientation: "portrait",
		ThemeColor: themeColor, BackgroundColor: backgroundColor,
		Categories: []string{"finance", "security", "utilities"},
		Icons: []icon{
			{Src: p.Icon192, Sizes: "192x192", Type: "image/png", Purpose: "any"},
			{Src: p.Icon512, Sizes: "512x512", Type: "image/png", Purpose: "any"},
			{Src: p.Maskable, Sizes: "512x512", Type: "image/png", Purpose: "maskable"},
		},
	}
	return json.MarshalIndent(m, "", "  ")
}

// resize scales the square image src to size by size pixels.
func resize(src image.Image, size int) image.Image {
	dst := image.NewRGBA(image.Rect(0, 0, size, size))
	draw.CatmullRom.Scale(dst, dst.Bounds(), src, src.Bounds(), draw.Over, nil)
	return dst
}

// maskable is the icon for launchers that cut their own shape: opaque, the
// icon's colour to every edge, its drawing inside the middle 80% circle
// that every mask keeps.
func maskable(src image.Image, size int) image.Image {
	dst := image.NewRGBA(image.Rect(0, 0, size, size))
	draw.Draw(dst, dst.Bounds(), image.NewUniform(iconColor()), image.Point{}, draw.Src)
	inner := size * 88 / 100
	off := (size - inner) / 2
	draw.CatmullRom.Scale(dst, image.Rect(off, off, off+inner, off+inner), src, src.Bounds(), draw.Over, nil)
	return dst
}

// iconColor is themeColor as a colour.
func iconColor() color.RGBA {
	var c [3]byte
	hex.Decode(c[:], []byte(themeColor[1:]))
	return color.RGBA{c[0], c[1], c[2], 0xff}
}

func encodePNG(img image.Image) []byte {
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, img); err != nil {
		panic(err) // an in-memory RGBA image: cannot fail
	}
	return buf.Bytes()
}

// compressible reports whether the file gets .br and .gz forms: the
// module and the text files. Images are compressed already.
func compressible(name string) bool {
	switch filepath.Ext(name) {
	case ".wasm", ".js", ".css", ".html", ".webmanifest", ".json", ".svg":
		return true
	}
	return false
}

// writeTo replaces the folder dir with the site: it writes a new folder
// beside it, compresses it (brotli at quality q, gzip -9, with Debian's
// brotli and gzip; none when q < 0), then swaps the two. A versioned
// file's compressed forms are taken from the old folder when they are
// there: same name, same content.
func (s site) writeTo(dir string, q int) error {
	dir = filepath.Clean(dir)
	if s.builtIn(dir, q) {
		// Left alone: a service serving it sees no moment without it.
		return nil
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+"-new-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	// The old folder's forms are reused only if made at quality q.
	old, _ := os.ReadFile(filepath.Join(dir, qualityFile))
	canReuse := q >= 0 && string(old) == strconv.Itoa(q)
	if q >= 0 {
		if err := os.WriteFile(filepath.Join(tmp, qualityFile), []byte(strconv.Itoa(q)), 0o644); err != nil {
			return err
		}
	}
	var jobs []*exec.Cmd
	for name, data := range s {
		path := filepath.Join(tmp, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return err
		}
		if q < 0 || !compressible(name) {
			continue
		}
		for _, c := range []struct {
			ext  string
			tool []string
		}{
			{".br", []string{"brotli", "-q", strconv.Itoa(q), "-f", "-o", path + ".br", path}},
			{".gz", []string{"sh", "-c", `gzip -9 -n -c "$1" >"$1.gz"`, "gzip", path}},
		} {
			if canReuse && name != "index.html" && name != "sw.js" && name != "manifest.webmanifest" && reuse(filepath.Join(dir, name+c.ext), path+c.ext) {
				continue
			}
			jobs = append(jobs, exec.Command(c.tool[0], c.tool[1:]...))
		}
	}
	if err := runAll(jobs, runtime.NumCPU()); err != nil {
		return err
	}
	prev := ""
	if _, err := os.Stat(dir); err == nil {
		prev = tmp + "-old"
		if err := os.Rename(dir, prev); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if prev != "" {
			os.Rename(prev, dir)
		}
		return err
	}
	if prev != "" {
		return os.RemoveAll(prev)
	}
	return nil
}

// builtIn reports whether the folder dir holds this site already, and
// nothing else: the same files, compressed at quality q (none when q < 0).
func (s site) builtIn(dir string, q int) bool {
	want := map[string]bool{}
	for name, data := range s {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, data) {
			return false
		}
		want[name] = true
		if q >= 0 && compressible(name) {
			want[name+".br"], want[name+".gz"] = true, true
		}
	}
	if q >= 0 {
		if old, err := os.ReadFile(filepath.Join(dir, qualityFile)); err != nil || string(old) != strconv.Itoa(q) {
			return false
		}
		want[qualityFile] = true
	}
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) != len(want) {
		return false
	}
	for _, e := range ents {
		if !want[e.Name()] || !e.Type().IsRegular() {
			return false
		}
	}
	return true
}

// qualityFile, in the folder, says at which brotli quality its .br files
// were made. A dot file: the service does not serve it.
const qualityFile = ".brotli-quality"

// reuse copies the compressed file from to to, reporting whether it could.
func reuse(from, to string) bool {
	data, err := os.ReadFile(from)
	return err == nil && os.WriteFile(to, data, 0o644) == nil
}

// runAll runs the commands, n at a time, and returns the first failure.
func runAll(cmds []*exec.Cmd, n int) error {
	sem := make(chan struct{}, max(n, 1))
	errs := make([]error, len(cmds))
	var wg sync.WaitGroup
	for i, c := range cmds {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if out, err := c.CombinedOutput(); err != nil {
				if errors.Is(err, exec.ErrNotFound) {
					err = fmt.Errorf("%w: install it (scripts/deps.sh run installs brotli)", err)
				}
				errs[i] = fmt.Errorf("%s: %w %s", strings.Join(c.Args, " "), err, bytes.TrimSpace(out))
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
