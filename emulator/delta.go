package emulator

import (
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// parseReceivedFilter accepts only "receivedDateTime ge|gt <datetime>", the
// one filter message delta supports (GRAPH_FACTS 3.1). An empty value is no
// filter.
func parseReceivedFilter(v string) (op string, at time.Time, gerr *graphError) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", time.Time{}, nil
	}
	bad := newError(http.StatusBadRequest, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes. Only 'receivedDateTime ge|gt <dateTime>' is supported.")
	parts := strings.Fields(v)
	if len(parts) != 3 || !strings.EqualFold(parts[0], "receivedDateTime") {
		return "", time.Time{}, bad
	}
	op = strings.ToLower(parts[1])
	if op != "ge" && op != "gt" {
		return "", time.Time{}, bad
	}
	value := strings.Trim(parts[2], `'"`)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, value); err == nil {
			return op, t.UTC(), nil
		}
	}
	return "", time.Time{}, bad
}

func passesFilter(m *message, op string, at time.Time) bool {
	switch op {
	case "ge":
		return !m.received.Before(at)
	case "gt":
		return m.received.After(at)
	}
	return true
}

// filterPrefix returns the prefix of msgs (newest first) passing the filter.
func filterPrefix(msgs []*message, op string, at time.Time) []*message {
	n := sort.Search(len(msgs), func(i int) bool { return !passesFilter(msgs[i], op, at) })
	return msgs[:n]
}

func sortMessages(msgs []*message) {
	sort.Slice(msgs, func(i, j int) bool { return messageBefore(msgs[i], msgs[j]) })
}

// syncStateGone answers an unknown, evicted or expired token (410
// SyncStateNotFound by default, see Quirks) with a Location holding a fresh
// initial URL.
func (c *call) syncStateGone(initialURL string) {
	q := c.s.opts.Quirks
	e := newError(q.SyncStateStatus, q.SyncStateCode, "The sync state generation is not found; generation="+strconv.FormatUint(c.mb.syncStates.counter(), 10)+";[highest="+strconv.FormatUint(c.mb.syncStates.counter(), 10)+"].")
	if !q.SyncStateOmitLocation {
		e.withHeader("Location", initialURL)
	}
	c.fail(e)
}

// deltaTokenParam returns the token of a delta request and whether it is a
// deltatoken (as opposed to a skiptoken).
func (c *call) deltaTokenParam() (token string, present bool) {
	if t, ok := c.query["$skiptoken"]; ok {
		return t, true
	}
	if t, ok := c.query["$deltatoken"]; ok {
		return t, true
	}
	return "", false
}

// parseMessageDeltaOptions reads the options of an initial message delta.
func (c *call) parseMessageDeltaOptions() (deltaOptions, *graphError) {
	var o deltaOptions
	sel, gerr := c.messageSelect()
	if gerr != nil {
		return o, gerr
	}
	o.selected = sel
	o.hasSelect = c.query["$select"] != ""
	if o.filterOp, o.filterTime, gerr = parseReceivedFilter(c.query["$filter"]); gerr != nil {
		return o, gerr
	}
	if _, ok := c.query["$search"]; ok {
		return o, errBadRequest("$search is not supported on delta queries.")
	}
	if ob, ok := c.query["$orderby"]; ok && !strings.EqualFold(strings.Join(strings.Fields(ob), " "), "receivedDateTime desc") {
		return o, errBadRequest("Only 'receivedDateTime desc' is supported in $orderby on delta queries.")
	}
	if ct, ok := c.query["changetype"]; ok {
		v, valid := canonicalEnum(ct, "created", "updated", "deleted")
		if !valid {
			return o, errBadRequest("Invalid changeType value '" + ct + "'.")
		}
		o.changeType = v
	}
	return o, nil
}

// messageDelta serves GET mailFolders/{id}/messages/delta.
func (c *call) messageDelta(ref string) {
	mb := c.mb
	mb.mu.RLock()
	defer mb.mu.RUnlock()
	f, gerr := mb.folderByRef(ref)
	token, hasToken := c.deltaTokenParam()
	var prev *syncState
	if hasToken {
		// The token is looked up first: a token of another mailbox (whose
		// folder id is unknown here) answers like an evicted one.
		var ok bool
		prev, ok = mb.syncStates.get(token)
		if !ok || prev.kind != deltaMessages {
			folderRef := ref
			if f != nil {
				folderRef = f.id
			}
			c.syncStateGone(c.root() + "/" + c.principal + "/mailfolders('" + folderRef + "')/messages/delta")
			return
		}
	}
	if gerr != nil {
		c.fail(gerr)
		return
	}
	base := c.root() + "/" + c.principal + "/mailfolders('" + f.id + "')/messages/delta"
	var st syncState
	if hasToken {
		if prev.folderID != f.id {
			c.fail(errBadRequest("The sync token does not belong to this folder."))
			return
		}
		st = *prev
		if st.isDelta {
			if st.baseline < f.journalFloor {
				c.syncStateGone(base)
				return
			}
			st.round = c.incrementalMessageRound(f, st.baseline, st.opts)
			st.offset, st.pageIndex, st.emptyServed, st.isDelta = 0, 0, false, false
		}
	} else {
		opts, gerr := c.parseMessageDeltaOptions()
		if gerr != nil {
			c.fail(gerr)
			return
		}
		st = syncState{kind: deltaMessages, folderID: f.id, opts: opts, round: c.initialMessageRound(f, opts)}
	}
	o := c.renderOpts(true)
	c.serveDeltaPage(&st, base, c.metadata("Collection(message)"), func(b *jsonBuf, it *roundItem) bool {
		if it.removed {
			writeRemoved(b, "#microsoft.graph.message", pickID(it, o.immutableIDs))
			return true
		}
		m := it.msg
		if m.deleted || m.folder != f {
			return false
		}
		writeMessage(b, m, st.opts.selected, renderOptions{immutableIDs: o.immutableIDs, bodyType: o.bodyType, odataType: true})
		return true
	})
}

func pickID(it *roundItem, immutable bool) string {
	if immutable {
		return it.immutableID
	}
	return it.restID
}

// initialMessageRound snapshots the folder's current contents.
func (c *call) initialMessageRound(f *folder, opts deltaOptions) *deltaRound {
	r := &deltaRound{upto: c.mb.seq}
	if opts.changeType == "updated" || opts.changeType == "deleted" {
		return r
	}
	msgs := f.msgs
	if opts.filterOp != "" {
		msgs = filterPrefix(msgs, opts.filterOp, opts.filterTime)
	}
	r.items = make([]roundItem, len(msgs), len(msgs)+c.replayExtra(len(msgs)))
	for i, m := range msgs {
		r.items[i] = roundItem{msg: m}
	}
	c.addReplays(r)
	return r
}

// incrementalMessageRound lists what changed in f after since: messages
// added or updated (rendered with their state at page time) and removals
// (deleted or moved out) under the ids the client knew.
func (c *call) incrementalMessageRound(f *folder, since uint64, opts deltaOptions) *deltaRound {
	r := &deltaRound{upto: c.mb.seq}
	j := f.journal
	start := sort.Search(len(j), func(i int) bool { return j[i].seq > since })
	type summary struct {
		created      bool
		firstRemoval *journalEntry
	}
	seen := make(map[*message]*summary, len(j)-start)
	order := make([]*message, 0, len(j)-start)
	for i := start; i < len(j); i++ {
		e := &j[i]
		s := seen[e.msg]
		if s == nil {
			s = &summary{created: e.kind == changeAdded}
			seen[e.msg] = s
			order = append(order, e.msg)
		}
		if e.kind == changeRemoved && s.firstRemoval == nil {
			s.firstRemoval = e
		}
	}
	for _, m := range order {
		s := seen[m]
		if !m.deleted && m.folder == f {
			switch {
			case opts.changeType == "deleted",
				opts.changeType == "created" && !s.created,
				opts.changeType == "updated" && s.created:
				continue
			}
			if opts.filterOp != "" && !passesFilter(m, opts.filterOp, opts.filterTime) {
				continue
			}
			r.items = append(r.items, roundItem{msg: m})
			continue
		}
		// Gone from the folder. A message the client never saw needs no removal.
		if s.created || s.firstRemoval == nil {
			continue
		}
		if opts.changeType == "created" || opts.changeType == "updated" {
			continue
		}
		r.items = append(r.items, roundItem{removed: true, restID: s.firstRemoval.restID, immutableID: s.firstRemoval.immutableID})
	}
	c.addReplays(r)
	return r
}

func (c *call) replayExtra(n int) int {
	if every := c.s.opts.Quirks.ReplayEvery; every > 0 {
		return n/every + 1
	}
	return 0
}

// addReplays appends duplicates of every Nth message (ReplayEvery quirk).
func (c *call) addReplays(r *deltaRound) {
	every := c.s.opts.Quirks.ReplayEvery
	if every <= 0 {
		return
	}
	n := len(r.items)
	for i := 0; i < n; i += every {
		if !r.items[i].removed {
			r.items = append(r.items, r.items[i])
		}
	}
}

// serveDeltaPage writes one page of st's round: a nextLink while items
// remain, else a deltaLink continuing from the round's sequence. write
// renders one item and reports whether it wrote anything.
func (c *call) serveDeltaPage(st *syncState, base, context string, write func(*jsonBuf, *roundItem) bool) {
	items := st.round.items
	pageSize := c.prefs.maxPageSize
	if pageSize <= 0 {
		pageSize = c.s.opts.DefaultPageSize
	}
	cache := c.mb.syncStates
	b := pooledBuf()
	defer b.release()
	b.raw(`{"@odata.context":`)
	b.str(context)

	if every := c.s.opts.Quirks.EmptyPageEvery; every > 0 && st.pageIndex > 0 && st.pageIndex%every == 0 && !st.emptyServed && st.offset < len(items) {
		next := *st
		next.emptyServed = true
		b.raw(`,"@odata.nextLink":`)
		b.str(base + "?$skiptoken=" + cache.put(&next))
		b.raw(`,"value":[]}`)
		c.reply(http.StatusOK, b.b)
		return
	}

	end := min(st.offset+pageSize, len(items))
	if end < len(items) {
		next := *st
		next.offset, next.pageIndex, next.emptyServed = end, st.pageIndex+1, false
		b.raw(`,"@odata.nextLink":`)
		b.str(base + "?$skiptoken=" + cache.put(&next))
	} else {
		next := syncState{kind: st.kind, folderID: st.folderID, opts: st.opts, baseline: st.round.upto, isDelta: true}
		b.raw(`,"@odata.deltaLink":`)
		b.str(base + "?$deltatoken=" + cache.put(&next))
	}
	b.raw(`,"value":[`)
	wrote := false
	for i := st.offset; i < end; i++ {
		mark := len(b.b)
		if wrote {
			b.byte1(',')
		}
		if write(b, &items[i]) {
			wrote = true
		} else {
			b.b = b.b[:mark]
		}
	}
	b.raw(`]}`)
	c.reply(http.StatusOK, b.b)
}

// folderDelta serves GET mailFolders/delta: the whole folder tree below
// msgfolderroot, flattened, then changed and removed folders.
func (c *call) folderDelta() {
	mb := c.mb
	mb.mu.RLock()
	defer mb.mu.RUnlock()
	base := c.root() + "/" + c.principal + "/mailFolders/delta"
	var st syncState
	token, hasToken := c.deltaTokenParam()
	if hasToken {
		prev, ok := mb.syncStates.get(token)
		if !ok || prev.kind != deltaFolders {
			c.syncStateGone(base)
			return
		}
		st = *prev
		if st.isDelta {
			if st.baseline < mb.tombFloor {
				c.syncStateGone(base)
				return
			}
			st.round = c.incrementalFolderRound(st.baseline)
			st.offset, st.pageIndex, st.emptyServed, st.isDelta = 0, 0, false, false
		}
	} else {
		sel, gerr := c.folderSelect()
		if gerr != nil {
			c.fail(gerr)
			return
		}
		r := &deltaRound{upto: mb.seq}
		mb.forEachFolder(func(f *folder) { r.items = append(r.items, roundItem{folder: f}) })
		st = syncState{kind: deltaFolders, opts: deltaOptions{selected: sel}, round: r}
	}
	c.renderOpts(true)
	c.serveDeltaPage(&st, base, c.metadata("Collection(mailFolder)"), func(b *jsonBuf, it *roundItem) bool {
		if it.removed {
			writeRemoved(b, "#microsoft.graph.mailFolder", it.restID)
			return true
		}
		if it.folder.deleted {
			return false
		}
		writeFolder(b, it.folder, st.opts.selected, "")
		return true
	})
}

func (c *call) incrementalFolderRound(since uint64) *deltaRound {
	mb := c.mb
	r := &deltaRound{upto: mb.seq}
	mb.forEachFolder(func(f *folder) {
		if f.changeSeq > since {
			r.items = append(r.items, roundItem{folder: f})
		}
	})
	for _, t := range mb.tombstones {
		if t.seq > since && t.createdSeq <= since {
			r.items = append(r.items, roundItem{removed: true, restID: t.id, immutableID: t.id})
		}
	}
	return r
}
