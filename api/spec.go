// Package api holds the device API specification of devicebridge,
// openapi.yaml (OpenAPI 3.1), and the means to hold the bridge to it: a
// Checker that validates requests, responses and command data against the
// document, and an http.RoundTripper for tests that checks every exchange
// with the device API.
//
// The package is for tests and tools: it imports no Caddy and nothing of the
// bridge, and the bridge does not import it.
package api

import (
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	"github.com/pb33f/libopenapi/datamodel/high/base"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
)

//go:embed openapi.yaml
var spec []byte

// Spec returns a copy of the OpenAPI document (YAML).
func Spec() []byte { return slices.Clone(spec) }

// dataExtension names, on each command schema, the schema of its result's data.
const dataExtension = "x-devicebridge-data"

// Checker validates device API traffic against the specification. It is
// safe for concurrent use.
type Checker struct {
	model     *v3.Document
	mu        sync.Mutex // serializes the validators, whose caches are not documented as concurrency-safe
	validator validator.Validator
	schemas   schema_validation.SchemaValidator
	basePath  string            // the servers' base path, e.g. /device/v1
	dataOf    map[string]string // op → data schema name
}

// NewChecker loads the embedded specification.
func NewChecker() (*Checker, error) {
	doc, err := libopenapi.NewDocument(Spec())
	if err != nil {
		return nil, fmt.Errorf("api: loading openapi.yaml: %w", err)
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		return nil, fmt.Errorf("api: building the model of openapi.yaml: %w", err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		return nil, fmt.Errorf("api: building the validator: %w", errors.Join(errs...))
	}
	c := &Checker{
		model:     &model.Model,
		validator: v,
		schemas:   schema_validation.NewSchemaValidator(),
		dataOf:    map[string]string{},
	}
	for _, s := range c.model.Servers {
		if i := strings.Index(s.URL, "}/"); i >= 0 {
			c.basePath = s.URL[i+1:]
		}
	}
	if c.basePath == "" {
		return nil, errors.New("api: openapi.yaml has no server with a base path")
	}
	for _, op := range c.Ops() {
		cmd := c.commandSchema(op)
		if cmd == nil {
			return nil, fmt.Errorf("api: op %s maps to no command schema", op)
		}
		node, ok := cmd.Extensions.Get(dataExtension)
		if !ok || node == nil || node.Value == "" {
			return nil, fmt.Errorf("api: the command schema of %s has no %s", op, dataExtension)
		}
		if c.schema(node.Value) == nil {
			return nil, fmt.Errorf("api: %s of %s names the unknown schema %s", dataExtension, op, node.Value)
		}
		c.dataOf[op] = node.Value
	}
	return c, nil
}

var (
	sharedOnce    sync.Once
	sharedChecker *Checker
	sharedErr     error
)

// shared returns one Checker for the whole process (building the validator
// is the expensive part).
func shared() (*Checker, error) {
	sharedOnce.Do(func() { sharedChecker, sharedErr = NewChecker() })
	return sharedChecker, sharedErr
}

// BasePath is the path prefix of the device API in the specification's
// servers ("/device/v1").
func (c *Checker) BasePath() string { return c.basePath }

// Ops returns the op names of the batch commands the specification
// describes, in document order.
func (c *Checker) Ops() []string {
	cmd := c.schema("Command")
	if cmd == nil || cmd.Discriminator == nil || cmd.Discriminator.Mapping == nil {
		return nil
	}
	var ops []string
	for pair := cmd.Discriminator.Mapping.First(); pair != nil; pair = pair.Next() {
		ops = append(ops, pair.Key())
	}
	return ops
}

// DataSchema returns the name of the schema of op's result data, or "" for
// an op the specification does not describe.
func (c *Checker) DataSchema(op string) string { return c.dataOf[op] }

// CheckData validates one successful command's data (the JSON of the
// result's data member) against the data schema of its op: stricter than
// the response check, which can only ask that data fit some op's shape.
func (c *Checker) CheckData(op string, data []byte) []string {
	name := c.dataOf[op]
	if name == "" {
		return []string{fmt.Sprintf("op %q is not in the specification", op)}
	}
	return c.CheckSchema(name, data)
}

// CheckSchema validates a JSON document against a named component schema.
func (c *Checker) CheckSchema(name string, doc []byte) []string {
	s := c.schema(name)
	if s == nil {
		return []string{fmt.Sprintf("no schema %q in the specification", name)}
	}
	c.mu.Lock()
	ok, errs := c.schemas.ValidateSchemaBytes(s, doc)
	c.mu.Unlock()
	if ok {
		return nil
	}
	return describe(errs)
}

// schema returns the component schema name, or nil.
func (c *Checker) schema(name string) *base.Schema {
	if c.model.Components == nil || c.model.Components.Schemas == nil {
		return nil
	}
	proxy, ok := c.model.Components.Schemas.Get(name)
	if !ok || proxy == nil {
		return nil
	}
	return proxy.Schema()
}

// commandSchema returns the command schema the discriminator maps op to.
func (c *Checker) commandSchema(op string) *base.Schema {
	cmd := c.schema("Command")
	if cmd == nil || cmd.Discriminator == nil || cmd.Discriminator.Mapping == nil {
		return nil
	}
	ref, ok := cmd.Discriminator.Mapping.Get(op)
	if !ok {
		return nil
	}
	return c.schema(strings.TrimPrefix(ref, "#/components/schemas/"))
}
