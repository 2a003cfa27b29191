// Package spec reads journey specs: it loads YAML files and directories,
// decodes Journey, ComponentCatalog and the paper's JourneyIntent documents
// strictly with source positions, resolves sloRef/atomicSLORef against
// OpenSLO, Sloth and Pyrra files, validates everything at once and maps the
// result onto the journey algebra (internal/model).
package spec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/diag"
	"github.com/emac-dev/emac/internal/model"
)

// DefaultMaxFileSize bounds each input file.
const DefaultMaxFileSize = 8 << 20

const maxDocuments = 1000

// Options configure Load; the zero value is the default.
type Options struct {
	// AllowOutside lets sloRef paths be absolute or leave the spec's Git
	// work tree (or its directory when there is none).
	AllowOutside bool
	// SLODirs are extra directories searched for atomicSLORef names.
	SLODirs []string
	// MaxFileSize bounds each file (0 = DefaultMaxFileSize).
	MaxFileSize int64
	// Stdin is read for the path "-".
	Stdin io.Reader
	// FS, when set, is read instead of the operating system's files (paths
	// are then slash-separated and relative to its root).
	FS fs.FS
}

// Bundle is what a load produced.
type Bundle struct {
	// Journeys resolved onto the algebra, in input order.
	Journeys []*model.Journey
	// Specs are the journeys' wire form (JourneyIntents converted), in the
	// same order.
	Specs []*v1alpha1.Journey
	// Sources holds every file read, for diagnostics' snippets.
	Sources diag.Sources
}

// document is one decoded YAML document with its positions.
type document struct {
	file   string
	kind   string
	pos    map[string]diag.Range
	keyPos map[string]diag.Range
	bad    map[string]bool
	start  diag.Range
	// failed is set when decoding the document reported errors.
	failed  bool
	journey *v1alpha1.Journey
	catalog *v1alpha1.ComponentCatalog
}

func (d *document) at(path string) *diag.Range {
	if r, ok := nearest(d.pos, path); ok {
		return &r
	}
	r := d.start
	return &r
}

// nearest is the position of path, or of its closest ancestor that has
// one (spec.flow.seq[1].call → spec.flow.seq[1] → spec.flow …).
func nearest(pos map[string]diag.Range, path string) (diag.Range, bool) {
	for p := path; p != ""; {
		if r, ok := pos[p]; ok {
			return r, true
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return diag.Range{}, false
}

func (d *document) keyAt(path string) *diag.Range {
	if r, ok := d.keyPos[path]; ok {
		return &r
	}
	return d.at(path)
}

type loader struct {
	ctx    context.Context
	opts   Options
	diags  diag.Diagnostics
	src    diag.Sources
	docs   []*document
	slo    map[string]*sloFile // cache by path
	scans  map[string][]string // directory → yaml files
	rootOf map[string]string
}

// Load reads the given files and directories ("-" is standard input) and
// returns the journeys they declare. Directories are walked for *.yaml and
// *.yml files; documents of other tools found there are skipped. All
// problems are returned at once, sorted.
func Load(ctx context.Context, paths []string, opts Options) (*Bundle, diag.Diagnostics) {
	l := &loader{ctx: ctx, opts: opts, src: diag.Sources{}, slo: map[string]*sloFile{}, scans: map[string][]string{}, rootOf: map[string]string{}}
	for _, p := range paths {
		l.input(p)
	}
	b := &Bundle{Sources: l.src}
	if !l.diags.HasErrors() || len(l.docs) > 0 {
		l.resolve(b)
	}
	return b, l.diags.Sort()
}

func (l *loader) maxSize() int64 {
	if l.opts.MaxFileSize > 0 {
		return l.opts.MaxFileSize
	}
	return DefaultMaxFileSize
}

func (l *loader) stat(p string) (fs.FileInfo, error) {
	if l.opts.FS != nil {
		return fs.Stat(l.opts.FS, p)
	}
	return os.Stat(p)
}

func (l *loader) readFile(p string) ([]byte, error) {
	var f io.ReadCloser
	var err error
	if l.opts.FS != nil {
		f, err = l.opts.FS.Open(p)
	} else {
		f, err = os.Open(p)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f, l.maxSize())
}

func readLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return b, nil
}

func isYAML(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".yaml" || ext == ".yml"
}

func (l *loader) input(p string) {
	if p == "-" {
		if l.opts.Stdin == nil {
			l.diags.Errorf(nil, "no standard input to read")
			return
		}
		b, err := readLimited(l.opts.Stdin, l.maxSize())
		if err != nil {
			l.diags.Errorf(&diag.Range{Filename: "<stdin>"}, "cannot read standard input: %v", err)
			return
		}
		l.file("<stdin>", b, true)
		return
	}
	st, err := l.stat(p)
	if err != nil {
		l.diags.Errorf(&diag.Range{Filename: p}, "cannot read: %v", unwrapPath(err))
		return
	}
	if !st.IsDir() {
		b, err := l.readFile(p)
		if err != nil {
			l.diags.Errorf(&diag.Range{Filename: p}, "cannot read: %v", unwrapPath(err))
			return
		}
		l.file(p, b, true)
		return
	}
	files, err := l.walk(p)
	if err != nil {
		l.diags.Errorf(&diag.Range{Filename: p}, "cannot read directory: %v", unwrapPath(err))
	}
	found := false
	for _, f := range files {
		b, err := l.readFile(f)
		if err != nil {
			l.diags.Errorf(&diag.Range{Filename: f}, "cannot read: %v", unwrapPath(err))
			continue
		}
		found = l.file(f, b, false) || found
	}
	if !found {
		l.diags.Errorf(&diag.Range{Filename: p}, "no emac documents (Journey, ComponentCatalog, JourneyIntent) in this directory")
	}
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// walk lists the YAML files under dir, sorted.
func (l *loader) walk(dir string) ([]string, error) {
	if files, ok := l.scans[dir]; ok {
		return files, nil
	}
	var files []string
	fn := func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if de.IsDir() && p != dir && strings.HasPrefix(de.Name(), ".") {
			return fs.SkipDir
		}
		if !de.IsDir() && isYAML(p) {
			files = append(files, p)
		}
		return nil
	}
	var err error
	if l.opts.FS != nil {
		err = fs.WalkDir(l.opts.FS, dir, fn)
	} else {
		err = filepath.WalkDir(dir, fn)
	}
	sort.Strings(files)
	l.scans[dir] = files
	return files, err
}

var lineRE = regexp.MustCompile(`line (\d+)`)

// yamlError turns a YAML parser error into a positioned diagnostic.
func (l *loader) yamlError(file string, err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	r := &diag.Range{Filename: file, Start: diag.Pos{Line: 1, Column: 1}}
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		r.Start.Line = n
		msg = strings.TrimSpace(strings.Replace(msg, m[0]+":", "", 1))
	}
	l.diags.Errorf(r, "invalid YAML: %s", msg)
}

// file decodes the documents of one file; explicit says the user named it,
// so foreign documents are an error rather than skipped. It reports whether
// the file held an emac document.
func (l *loader) file(name string, data []byte, explicit bool) bool {
	l.src[name] = data
	dec := yaml.NewDecoder(bytes.NewReader(data))
	found := false
	for i := 0; ; i++ {
		if err := l.ctx.Err(); err != nil {
			l.diags.Errorf(&diag.Range{Filename: name}, "%v", err)
			return found
		}
		if i >= maxDocuments {
			l.diags.Errorf(&diag.Range{Filename: name}, "more than %d documents", maxDocuments)
			return found
		}
		var root yaml.Node
		err := dec.Decode(&root)
		if err == io.EOF {
			break
		}
		if err != nil {
			if explicit || looksLikeEmac(data) {
				l.yamlError(name, err)
			}
			return found
		}
		if len(root.Content) == 0 {
			continue
		}
		if l.document(name, root.Content[0], explicit) {
			found = true
		}
	}
	if explicit && !found {
		l.diags.Errorf(&diag.Range{Filename: name, Start: diag.Pos{Line: 1, Column: 1}},
			"no emac documents in this file").Detail = "expected apiVersion: " + v1alpha1.APIVersion + " with kind Journey, ComponentCatalog or JourneyIntent"
	}
	return found
}

func looksLikeEmac(b []byte) bool { return bytes.Contains(b, []byte(v1alpha1.Group+"/")) }

func scalarField(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key && n.Content[i+1].Kind == yaml.ScalarNode {
			return n.Content[i+1]
		}
	}
	return nil
}

var kinds = []string{v1alpha1.KindJourney, v1alpha1.KindComponentCatalog, v1alpha1.KindJourneyIntent}

func (l *loader) document(file string, n *yaml.Node, explicit bool) bool {
	av, kn := scalarField(n, "apiVersion"), scalarField(n, "kind")
	start := diag.Range{Filename: file, Start: diag.Pos{Line: n.Line, Column: n.Column}}
	if av == nil || !strings.HasPrefix(av.Value, v1alpha1.Group+"/") {
		if explicit && av == nil && n.Kind == yaml.MappingNode && kn == nil {
			l.diags.Errorf(&start, "document has no apiVersion").Detail = "add apiVersion: " + v1alpha1.APIVersion
			return true
		}
		return false
	}
	if av.Value != v1alpha1.APIVersion {
		l.diags.Errorf(diag.NodeRange(file, av), "unsupported apiVersion %q", av.Value).Detail = "this emac reads " + v1alpha1.APIVersion
		return true
	}
	if kn == nil {
		l.diags.Errorf(&start, "document has no kind").Detail = "one of: " + strings.Join(kinds, ", ")
		return true
	}
	doc := &document{file: file, kind: kn.Value, start: start}
	dec := newDecoder(file, &l.diags)
	before := len(l.diags)
	defer func() { doc.failed = l.diags[before:].HasErrors() }()
	switch kn.Value {
	case v1alpha1.KindJourney:
		doc.journey = &v1alpha1.Journey{}
		dec.decode(n, reflectValue(doc.journey), "")
	case v1alpha1.KindComponentCatalog:
		doc.catalog = &v1alpha1.ComponentCatalog{}
		dec.decode(n, reflectValue(doc.catalog), "")
	case v1alpha1.KindJourneyIntent:
		var in intent
		dec.decode(n, reflectValue(&in), "")
		doc.kind = v1alpha1.KindJourney
		doc.journey, doc.pos, doc.keyPos = in.convert(dec, &l.diags)
		doc.bad = dec.bad
	default:
		dg := l.diags.Errorf(diag.NodeRange(file, kn), "unknown kind %q", kn.Value)
		dg.Detail = diag.DidYouMean(kn.Value, kinds)
		if dg.Detail == "" {
			dg.Detail = "one of: " + strings.Join(kinds, ", ")
		}
		return true
	}
	if doc.pos == nil {
		doc.pos, doc.keyPos, doc.bad = dec.pos, dec.keyPos, dec.bad
	}
	l.docs = append(l.docs, doc)
	return true
}
