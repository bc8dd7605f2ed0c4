package caddymodule_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fileState is what a snapshot records of one file or directory.
type fileState struct {
	size    int64
	modTime time.Time
	mode    fs.FileMode
}

// snapshotTree records every file and directory under root (root itself
// included), skipping the subtrees for which skip returns true.
func snapshotTree(t *testing.T, root string, skip func(path string) bool) map[string]fileState {
	t.Helper()
	files := map[string]fileState{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if skip(path) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		files[path] = fileState{size: info.Size(), modTime: info.ModTime(), mode: info.Mode()}
		return nil
	})
	require.NoError(t, err)
	return files
}

// diffSnapshots lists what was created, removed or changed.
func diffSnapshots(before, after map[string]fileState) []string {
	var changes []string
	for path, a := range after {
		b, ok := before[path]
		switch {
		case !ok:
			changes = append(changes, "created "+path)
		case a.mode.IsDir() && b.mode.IsDir():
			// A directory's mtime moves when an entry is created or removed
			// in it; that entry is reported itself.
		case a != b:
			changes = append(changes, "changed "+path)
		}
	}
	for path := range before {
		if _, ok := after[path]; !ok {
			changes = append(changes, "removed "+path)
		}
	}
	sort.Strings(changes)
	return changes
}

// caddyStoragePaths are the parts of Caddy's data directory that
// certificate management owns: certificates, the local CA, ACME accounts,
// locks, OCSP staples and its bookkeeping files.
var caddyStoragePaths = []string{"certificates", "pki", "acme", "locks", "ocsp", "instance.uuid", "last_clean.json"}

// TestIntegrationWritesNoFiles shows that the bridge writes no file during
// a full device session. Every place a process writes to without an
// absolute path of its own — the working directory, the temporary
// directory, the home directory and the XDG data, config, cache and state
// directories — is pointed at a fresh directory (the data and config
// directories at the test binary's, where Caddy keeps its storage) and
// snapshotted before and after the session; only Caddy's certificate
// storage may change. TestBridgeSourcesWriteNoFiles covers absolute paths.
func TestIntegrationWritesNoFiles(t *testing.T) {
	workDir, tmpDir, homeDir, cacheDir, stateDir := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	t.Chdir(workDir)
	t.Setenv("TMPDIR", tmpDir)
	t.Setenv("HOME", homeDir)
	t.Setenv("XDG_CACHE_HOME", cacheDir)
	t.Setenv("XDG_STATE_HOME", stateDir)
	require.Equal(t, tmpDir, os.TempDir())

	// Caddy's data and config directories (TestMain points both at one
	// temporary directory): its config autosave is written when a config
	// is loaded, before the first snapshot; its storage is excluded.
	dataDir := os.Getenv("XDG_DATA_HOME")
	require.NotEmpty(t, dataDir, "TestMain sets XDG_DATA_HOME")
	storage := filepath.Join(dataDir, "caddy")
	isStorage := func(path string) bool {
		for _, p := range caddyStoragePaths {
			if path == filepath.Join(storage, p) {
				return true
			}
		}
		return false
	}

	e := startBridge(t)
	e.sendsInvalidRequests() // bad input on purpose; the answers are still checked
	secrets := newSessionSecrets()
	// Warm up (the first handshakes, the local CA's leaf certificates)
	// before the first snapshot.
	e.command("demo", "folders.sync", map[string]any{})

	roots := []string{workDir, tmpDir, homeDir, cacheDir, stateDir, dataDir}
	if configDir := os.Getenv("XDG_CONFIG_HOME"); configDir != dataDir {
		roots = append(roots, configDir)
	}
	snapshot := func() map[string]fileState {
		all := map[string]fileState{}
		for _, root := range roots {
			for path, state := range snapshotTree(t, root, isStorage) {
				all[path] = state
			}
		}
		return all
	}

	before := snapshot()
	runFullSession(e, secrets)
	time.Sleep(200 * time.Millisecond) // let deferred work (access logs, closes) finish
	after := snapshot()
	assert.Empty(t, diffSnapshots(before, after), "the bridge wrote files during a device session")

	// The snapshots do see a write.
	require.NoError(t, os.WriteFile(filepath.Join(os.TempDir(), "probe"), []byte("x"), 0o600))
	assert.Equal(t, []string{"created " + filepath.Join(tmpDir, "probe")}, diffSnapshots(after, snapshot()))
}

// fileWritingCalls are the standard library functions that create, change
// or remove files.
var fileWritingCalls = map[string]map[string]bool{
	"os": {
		"Create": true, "CreateTemp": true, "OpenFile": true, "WriteFile": true,
		"Mkdir": true, "MkdirAll": true, "MkdirTemp": true, "Remove": true, "RemoveAll": true,
		"Rename": true, "Symlink": true, "Link": true, "Truncate": true,
		"Chmod": true, "Chown": true, "Chtimes": true, "CopyFS": true,
	},
	"ioutil":  {"WriteFile": true, "TempFile": true, "TempDir": true},
	"syscall": {"Open": true, "Creat": true, "Mkdir": true, "Unlink": true, "Rename": true},
}

// TestBridgeSourcesWriteNoFiles checks that the bridge's non-test sources
// (translate, caddymodule, tlspolicy, governor, push) call no file-writing function of the
// standard library, whatever the path: the integration test above can
// only watch the places a process writes to by default.
func TestBridgeSourcesWriteNoFiles(t *testing.T) {
	fset := token.NewFileSet()
	checked := 0
	for _, dir := range []string{"../translate", ".", "../tlspolicy", "../governor", "../push"} {
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		for _, entry := range entries {
			name := entry.Name()
			if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
				continue
			}
			path := filepath.Join(dir, name)
			file, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			require.NoError(t, err)
			checked++
			imports := map[string]string{} // local name → import path
			for _, imp := range file.Imports {
				importPath := strings.Trim(imp.Path.Value, `"`)
				local := importPath[strings.LastIndex(importPath, "/")+1:]
				if imp.Name != nil {
					local = imp.Name.Name
				}
				imports[local] = importPath
			}
			ast.Inspect(file, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				pkg, ok := sel.X.(*ast.Ident)
				if !ok {
					return true
				}
				importPath := imports[pkg.Name]
				base := importPath[strings.LastIndex(importPath, "/")+1:]
				if (importPath == "os" || importPath == "io/ioutil" || importPath == "syscall") && fileWritingCalls[base][sel.Sel.Name] {
					t.Errorf("%s: %s.%s writes to the file system", fset.Position(sel.Pos()), pkg.Name, sel.Sel.Name)
				}
				return true
			})
		}
	}
	assert.Greater(t, checked, 10, "the bridge's sources were found")
}
