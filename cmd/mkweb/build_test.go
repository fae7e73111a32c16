package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func testIcon() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 256, 256))
	for y := 16; y < 240; y++ {
		for x := 16; x < 240; x++ {
			img.Set(x, y, color.RGBA{0xb3, 0x26, 0x1e, 0xff})
		}
	}
	return img
}

var module = []byte("\x00asm\x01\x00\x00\x00 a module")

func testSite(t *testing.T) site {
	t.Helper()
	s, err := build(module, []byte("// wasm_exec.js"), testIcon())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// versioned is how the handler (internal/webapp) knows a file that can be
// cached for ever.
var versioned = regexp.MustCompile(`^[a-z0-9_-]+\.[0-9a-f]{12}\.[a-z]+$`)

func TestBuild(t *testing.T) {
	s := testSite(t)
	index := string(s["index.html"])
	for _, want := range []string{
		`<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">`,
		`<link rel="manifest" href="manifest.webmanifest">`,
		`<meta name="theme-color" content="#b3261e">`,
		`<input id="dummyEntry"`, // Fyne's web driver focuses it for the keyboard
	} {
		if !strings.Contains(index, want) {
			t.Errorf("the page has no %s", want)
		}
	}
	// Everything the page names is in the build, under a versioned name;
	// nothing is inline (the CSP allows none).
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(index, -1)
	if len(refs) < 6 {
		t.Fatalf("the page names %d files", len(refs))
	}
	for _, r := range refs {
		if r[1] == "manifest.webmanifest" {
			continue
		}
		if _, ok := s[r[1]]; !ok || !versioned.MatchString(r[1]) {
			t.Errorf("the page names %s: in the build %v, versioned %v", r[1], ok, versioned.MatchString(r[1]))
		}
	}
	if strings.Contains(index, "<script>") || strings.Contains(index, "<style") || strings.Contains(index, "style=") || regexp.MustCompile(` on[a-z]+=`).MatchString(index) {
		t.Error("the page has inline script or style")
	}
	// The module is there, unchanged, and boot.js loads it.
	var mod, boot string
	for name, data := range s {
		switch {
		case strings.HasPrefix(name, "ibkey.") && strings.HasSuffix(name, ".wasm"):
			mod = name
			if !bytes.Equal(data, module) {
				t.Error("the module changed")
			}
		case strings.HasPrefix(name, "boot."):
			boot = string(data)
		}
	}
	if mod == "" || !strings.Contains(boot, "const wasm = '"+mod+"';") {
		t.Errorf("boot.js does not load %q", mod)
	}

	// The manifest makes the app installable on /app/.
	var m struct {
		ID, Name, Display, StartURL, Scope string
		ShortName                          string `json:"short_name"`
		Start                              string `json:"start_url"`
		Theme                              string `json:"theme_color"`
		Background                         string `json:"background_color"`
		Icons                              []struct{ Src, Sizes, Type, Purpose string }
	}
	if err := json.Unmarshal(s["manifest.webmanifest"], &m); err != nil {
		t.Fatal(err)
	}
	if m.Name != "IB Key" || m.ShortName == "" || m.Display != "standalone" || m.Start != "/app/" || m.Scope != "/app/" || m.ID != "/app/" || m.Theme == "" || m.Background == "" {
		t.Errorf("manifest %+v", m)
	}
	sizes := map[string]int{}
	for _, ic := range m.Icons {
		data, ok := s[ic.Src]
		if !ok || ic.Type != "image/png" {
			t.Errorf("icon %+v: in the build %v", ic, ok)
			continue
		}
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if ic.Sizes != fmt.Sprintf("%dx%d", img.Bounds().Dx(), img.Bounds().Dy()) {
			t.Errorf("icon %s says %s, is %v", ic.Src, ic.Sizes, img.Bounds())
		}
		sizes[ic.Purpose+" "+ic.Sizes]++
		if ic.Purpose == "maskable" {
			// Opaque to the corners: the launcher's mask cuts it.
			if _, _, _, a := img.At(0, 0).RGBA(); a != 0xffff {
				t.Error("the maskable icon's corner is transparent")
			}
		}
	}
	for _, want := range []string{"any 192x192", "any 512x512", "maskable 512x512"} {
		if sizes[want] != 1 {
			t.Errorf("icons %v: no %s", sizes, want)
		}
	}

	// The service worker precaches the page and every other file but
	// itself, and its cache's name changes with any of them.
	sw := string(s["sw.js"])
	list := regexp.MustCompile(`const files = (\[.*\]);`).FindStringSubmatch(sw)
	if list == nil {
		t.Fatal("sw.js lists no files")
	}
	var files []string
	if err := json.Unmarshal([]byte(list[1]), &files); err != nil {
		t.Fatal(err)
	}
	var want []string
	for name := range s {
		switch name {
		case "index.html":
			want = append(want, "./")
		case "sw.js":
		default:
			want = append(want, name)
		}
	}
	slices.Sort(files)
	slices.Sort(want)
	if !slices.Equal(files, want) {
		t.Errorf("sw.js precaches %v, want %v", files, want)
	}
	other, err := build(append(slices.Clone(module), '!'), []byte("// wasm_exec.js"), testIcon())
	if err != nil {
		t.Fatal(err)
	}
	version := regexp.MustCompile(`const build = '([0-9a-f]{16})';`)
	v1, v2 := version.FindStringSubmatch(sw), version.FindStringSubmatch(string(other["sw.js"]))
	if v1 == nil || v2 == nil || v1[1] == v2[1] {
		t.Errorf("the cache's version does not follow the module: %v %v", v1, v2)
	}
}

func TestBuildRefuses(t *testing.T) {
	if _, err := build([]byte("not wasm"), nil, testIcon()); err == nil {
		t.Error("a module that is not WebAssembly")
	}
	if _, err := build(module, nil, image.NewRGBA(image.Rect(0, 0, 256, 128))); err == nil {
		t.Error("an icon that is not square")
	}
	if _, err := build(module, nil, image.NewRGBA(image.Rect(0, 0, 64, 64))); err == nil {
		t.Error("an icon too small")
	}
}

func TestWriteTo(t *testing.T) {
	s := testSite(t)
	dir := filepath.Join(t.TempDir(), "build", "web")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "ibkey.000000000000.wasm")
	if err := os.WriteFile(stale, []byte("an old build"), 0o644); err != nil {
		t.Fatal(err)
	}
	q := 5
	if _, err := exec.LookPath("brotli"); err != nil {
		t.Logf("no brotli (%v): no compressed files", err)
		q = -1
	}
	if err := s.writeTo(dir, q); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the old build's file is still there: %v", err)
	}
	ents, err := os.ReadDir(filepath.Dir(dir))
	if err != nil || len(ents) != 1 { // no temporary folder left
		t.Errorf("beside the build: %v %v", ents, err)
	}
	for name, data := range s {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: %v", name, err)
		}
		if q < 0 {
			continue
		}
		_, brErr := os.Stat(filepath.Join(dir, name+".br"))
		gz, gzErr := os.ReadFile(filepath.Join(dir, name+".gz"))
		if compressible(name) != (brErr == nil) || compressible(name) != (gzErr == nil) {
			t.Errorf("%s: .br %v, .gz %v", name, brErr, gzErr)
		}
		if gzErr == nil {
			zr, err := gzip.NewReader(bytes.NewReader(gz))
			if err != nil {
				t.Fatal(err)
			}
			if plain, err := io.ReadAll(zr); err != nil || !bytes.Equal(plain, data) {
				t.Errorf("%s.gz: %v", name, err)
			}
		}
		if brErr == nil {
			plain, err := exec.Command("brotli", "-d", "-c", filepath.Join(dir, name+".br")).Output()
			if err != nil || !bytes.Equal(plain, data) {
				t.Errorf("%s.br: %v", name, err)
			}
		}
	}
	if q < 0 {
		return
	}
	// A new build (another wasm_exec.js): the unchanged versioned files'
	// compressed forms are taken as they are; the others are made anew.
	s2, err := build(module, []byte("// wasm_exec.js, the next Go"), testIcon())
	if err != nil {
		t.Fatal(err)
	}
	var mod string
	for name := range s {
		if strings.HasSuffix(name, ".wasm") {
			mod = name
		}
	}
	mark := []byte("kept from the last build")
	if err := os.WriteFile(filepath.Join(dir, mod+".br"), mark, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sw.js.br"), mark, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s2.writeTo(dir, q); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, mod+".br")); !bytes.Equal(got, mark) {
		t.Errorf("the module's .br was made again")
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "sw.js.br")); bytes.Equal(got, mark) {
		t.Errorf("sw.js.br was kept")
	}
	// The same build again leaves the folder alone: a service serving it
	// never misses it.
	before, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.writeTo(dir, q); err != nil {
		t.Fatal(err)
	}
	if after, err := os.Stat(dir); err != nil || !os.SameFile(before, after) {
		t.Errorf("the same build replaced the folder: %v", err)
	}
	// At another quality, everything is made anew.
	if err := s.writeTo(dir, q+1); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, mod+".br")); bytes.Equal(got, mark) {
		t.Errorf("the module's .br of another quality was kept")
	}
}
