package deviceclient

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// MaxBatchCommands is the most commands one request may carry.
const MaxBatchCommands = 20

// command is one entry of the envelope.
type command struct {
	ID   string `json:"id"`
	Op   string `json:"op"`
	Args any    `json:"args,omitempty"`
}

// Batch collects commands for one request. Its methods (one per command)
// return a Pending whose Result is known once Client.Do returns. A Batch is
// used for one Do and is not safe for concurrent use.
type Batch struct {
	commands []command
	pending  []resultSink
}

// resultSink receives one command's result.
type resultSink interface {
	deliver(status int, data json.RawMessage, err *Error) error
}

// NewBatch returns an empty batch.
func (c *Client) NewBatch() *Batch { return &Batch{} }

// Len is the number of commands in the batch.
func (b *Batch) Len() int { return len(b.commands) }

// Pending is the future result of one command of a batch.
type Pending[T any] struct {
	id     string
	member string // the data member holding T ("folder" of {"folder":{…}}); "" for the whole data
	value  T
	err    error
}

// Result returns the command's data, or its error (*Error for a command
// the bridge answered with an error).
func (p *Pending[T]) Result() (T, error) { return p.value, p.err }

// ID is the command id used on the wire.
func (p *Pending[T]) ID() string { return p.id }

func (p *Pending[T]) deliver(status int, data json.RawMessage, e *Error) error {
	if e != nil {
		e.Status = status
		p.err = e
		return nil
	}
	if p.member != "" {
		var wrapped map[string]json.RawMessage
		if err := json.Unmarshal(data, &wrapped); err != nil || wrapped[p.member] == nil {
			p.err = fmt.Errorf("deviceclient: data of command %s has no %q", p.id, p.member)
			return nil
		}
		data = wrapped[p.member]
	}
	if err := json.Unmarshal(data, &p.value); err != nil {
		p.err = fmt.Errorf("deviceclient: malformed data of command %s: %v", p.id, err)
		return nil
	}
	p.err = nil
	return nil
}

// add appends a command; a batch over MaxBatchCommands fails at Do.
func add[T any](b *Batch, op, member string, args any) *Pending[T] {
	p := &Pending[T]{id: "c" + strconv.Itoa(len(b.commands)+1), member: member, err: errNotRun}
	b.commands = append(b.commands, command{ID: p.id, Op: op, Args: args})
	b.pending = append(b.pending, p)
	return p
}

// deliver hands each result to its command, matched by id.
func (b *Batch) deliver(results []json.RawMessage) error {
	byID := make(map[string]resultSink, len(b.pending))
	for i, p := range b.pending {
		byID[b.commands[i].ID] = p
	}
	for _, raw := range results {
		var r struct {
			ID     string          `json:"id"`
			Status int             `json:"status"`
			Data   json.RawMessage `json:"data"`
			Error  *Error          `json:"error"`
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			return fmt.Errorf("deviceclient: malformed result: %v", err)
		}
		sink, ok := byID[r.ID]
		if !ok {
			return fmt.Errorf("deviceclient: a result for unknown command %q", r.ID)
		}
		delete(byID, r.ID)
		if err := sink.deliver(r.Status, r.Data, r.Error); err != nil {
			return err
		}
	}
	if len(byID) != 0 {
		return fmt.Errorf("deviceclient: %d commands got no result", len(byID))
	}
	return nil
}
