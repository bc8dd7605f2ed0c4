package emulator

import (
	"net/http"
	"strings"
	"time"
)

// This file serves drive delta as FILES_FACTS 1 documents it: the first
// round lists the scope (the root, or on personal drives a folder) and
// everything below it, root first and parents before children; later
// rounds list each changed item once, in its latest state, together with
// its parents up to the root (unless deltaExcludeParent), then tombstones
// of deleted items. Pages follow $top (unless the DriveIgnoreTop quirk),
// but a page of mostly deletions ends after about 7 items; nextLinks use
// the delta(token='…') form and deltaLinks ?token=…, both keeping the
// original query options. token=latest answers no items and a deltaLink;
// on business drives a timestamp token (token=2021-09-29T20:00:00Z) answers
// the changes since then; an unknown or expired token answers 410
// (Quirks.DriveResyncCode).

// driveDeltaOptions are the options of a drive delta's first call, baked
// into its tokens.
type driveDeltaOptions struct {
	scopeID  string
	sel      fieldSet
	explicit bool
	thumbs   int
	top      int
	// query is the raw query string of the first call without token,
	// kept in every link.
	query string
}

// deltaToken reads the token of a drive delta call: delta(token='…'),
// delta(token=…) or ?token=….
func (c *call) driveDeltaToken(rest []string) (string, bool, *graphError) {
	switch len(rest) {
	case 0:
		t, ok := c.query["token"]
		return t, ok, nil
	case 1:
		v, ok := strings.CutPrefix(rest[0], "token=")
		if !ok {
			return "", false, errDriveInvalid("Invalid delta function parameter.")
		}
		v = strings.Trim(v, "'")
		return v, true, nil
	}
	return "", false, errSegmentNotFound(rest[1])
}

// keptDeltaQuery is the request's query without token, as sent.
func (c *call) keptDeltaQuery() string {
	var kept []string
	for _, kv := range strings.Split(c.r.URL.RawQuery, "&") {
		k, _, _ := strings.Cut(kv, "=")
		if kv == "" || strings.EqualFold(k, "token") {
			continue
		}
		kept = append(kept, kv)
	}
	return strings.Join(kept, "&")
}

func driveScopePath(scope *driveItem) string {
	if scope.isRoot {
		return "/root"
	}
	return "/items/" + scope.id
}

// driveResync answers an unknown or expired token.
func (c *call) driveResync(location string) {
	q := c.s.opts.Quirks
	code, inner := q.DriveResyncCode, ""
	if code == DriveResyncApplyDifferences || code == DriveResyncUploadDifferences {
		code, inner = DriveResyncRequired, q.DriveResyncCode
	}
	e := newError(http.StatusGone, code, "Resync required. Replace any local items with the server's version (including deletes) if you're sure that the service was up to date with your local changes when you last sync'd. Upload any local changes that the server doesn't know about.")
	e.innerCode = inner
	if !q.DriveResyncOmitLocation {
		e.withHeader("Location", location)
	}
	c.fail(e)
}

// excludeParent reports the deltaExcludeParent request (a Prefer value
// or a header of that name).
func (c *call) excludeParent() bool {
	if strings.EqualFold(strings.TrimSpace(c.r.Header.Get("deltaExcludeParent")), "true") {
		return true
	}
	for _, v := range c.r.Header.Values("Prefer") {
		if strings.Contains(strings.ToLower(v), "deltaexcludeparent") {
			return true
		}
	}
	return false
}

// driveDelta serves …/delta on scope. Caller holds the owner's read lock.
func (c *call) driveDelta(d *drive, scope *driveItem, rest []string) {
	if d.flavour == DriveBusiness && !scope.isRoot {
		c.fail(errDriveInvalid("Delta is only supported on the root of a drive."))
		return
	}
	if scope.isRoot && !c.ownsDrive() {
		c.fail(errDriveDenied())
		return
	}
	if !scope.isFolder || scope.remote != nil {
		c.fail(errDriveInvalid("Delta is only supported on folders."))
		return
	}
	token, hasToken, gerr := c.driveDeltaToken(rest)
	if gerr != nil {
		c.fail(gerr)
		return
	}
	base := c.driveBase() + driveScopePath(scope)
	fresh := base + "/delta"
	if q := c.keptDeltaQuery(); q != "" {
		fresh += "?" + q
	}
	var st syncState
	switch {
	case hasToken && d.flavour == DriveBusiness && looksLikeTimestamp(token):
		// A timestamp token (business only): changes since then.
		at, err := time.Parse(time.RFC3339, token)
		since, known := d.seqAt(at)
		if err != nil || !known || since < d.tombFlr {
			c.driveResync(fresh)
			return
		}
		opts, gerr := c.parseDriveDeltaOptions(d, scope)
		if gerr != nil {
			c.fail(gerr)
			return
		}
		st = syncState{kind: deltaDrive, drive: opts, round: c.incrementalDriveRound(d, scope, since)}
	case hasToken && token != "latest":
		prev, ok := d.states.get(token)
		if !ok || prev.kind != deltaDrive || prev.drive.scopeID != scope.id {
			c.driveResync(fresh)
			return
		}
		st = *prev
		if st.isDelta {
			if st.baseline < d.tombFlr {
				c.driveResync(fresh)
				return
			}
			st.round = c.incrementalDriveRound(d, scope, st.baseline)
			st.offset, st.pageIndex, st.emptyServed, st.isDelta = 0, 0, false, false
		}
	default:
		opts, gerr := c.parseDriveDeltaOptions(d, scope)
		if gerr != nil {
			c.fail(gerr)
			return
		}
		st = syncState{kind: deltaDrive, drive: opts}
		if hasToken && c.s.opts.Quirks.DriveLatestLinkKeepsToken {
			opts.query = c.r.URL.RawQuery
		}
		if hasToken {
			// token=latest: nothing now, changes from here on.
			st.round = &deltaRound{upto: d.seq}
		} else {
			st.round = initialDriveRound(d, scope)
		}
	}
	c.serveDriveDeltaPage(d, &st, base)
}

func (c *call) parseDriveDeltaOptions(d *drive, scope *driveItem) (*driveDeltaOptions, *graphError) {
	sel, explicit, gerr := parseDriveSelect(c.query["$select"])
	if gerr != nil {
		return nil, gerr
	}
	thumbs, gerr := parseDriveExpand(c.query["$expand"])
	if gerr != nil {
		return nil, gerr
	}
	if thumbs != thumbsNone && d.flavour == DriveBusiness {
		return nil, errDriveInvalid("Expanding thumbnails is not supported on delta queries for this drive.")
	}
	if _, ok := c.query["$orderby"]; ok {
		return nil, errDriveInvalid("$orderby is not supported on delta queries.")
	}
	if _, ok := c.query["$filter"]; ok {
		return nil, errDriveInvalid("$filter is not supported on delta queries.")
	}
	o := &driveDeltaOptions{scopeID: scope.id, sel: sel, explicit: explicit, thumbs: thumbs, top: DefaultDrivePageSize, query: c.keptDeltaQuery()}
	if _, ok := c.query["$top"]; ok && !c.s.opts.Quirks.DriveIgnoreTop {
		top, _, gerr := c.drivePage()
		if gerr != nil {
			return nil, gerr
		}
		o.top = top
	}
	return o, nil
}

func initialDriveRound(d *drive, scope *driveItem) *deltaRound {
	r := &deltaRound{upto: d.seq}
	walkDrive(scope, func(it *driveItem) { r.items = append(r.items, roundItem{driveItem: it}) })
	return r
}

// incrementalDriveRound lists what changed below scope after since.
func (c *call) incrementalDriveRound(d *drive, scope *driveItem, since uint64) *deltaRound {
	r := &deltaRound{upto: d.seq}
	needed := map[*driveItem]bool{}
	withParents := !c.excludeParent()
	walkDrive(scope, func(it *driveItem) {
		if it.changeSeq <= since {
			return
		}
		needed[it] = true
		if withParents {
			for p := it.parent; p != nil && !needed[p]; p = p.parent {
				needed[p] = true
				if p == scope {
					break
				}
			}
		}
	})
	walkDrive(scope, func(it *driveItem) {
		if needed[it] {
			r.items = append(r.items, roundItem{driveItem: it})
		}
	})
	for i := range d.tombs {
		t := &d.tombs[i]
		if t.seq <= since || t.createdSeq > since {
			continue
		}
		if !scope.isRoot && !containsString(t.ancestors, scope.id) {
			continue
		}
		r.items = append(r.items, roundItem{driveTomb: t})
	}
	return r
}

// looksLikeTimestamp tells a timestamp token (2021-09-29T20:00:00Z) from
// an opaque one.
func looksLikeTimestamp(token string) bool {
	return len(token) >= 20 && token[4] == '-' && token[7] == '-' && token[10] == 'T'
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// serveDriveDeltaPage writes one page of st's round.
func (c *call) serveDriveDeltaPage(d *drive, st *syncState, base string) {
	items := st.round.items
	opts := st.drive
	cache := d.states
	b := pooledBuf()
	defer b.release()
	b.raw(`{"@odata.context":`)
	b.str(c.metadata("Collection(driveItem)"))
	nextLink := func(token string) string {
		link := base + "/delta(token='" + token + "')"
		if opts.query != "" {
			link += "?" + opts.query
		}
		return link
	}
	if every := c.s.opts.Quirks.EmptyPageEvery; every > 0 && st.pageIndex > 0 && st.pageIndex%every == 0 && !st.emptyServed && st.offset < len(items) {
		next := *st
		next.emptyServed = true
		b.raw(`,"@odata.nextLink":`)
		b.str(nextLink(cache.put(&next)))
		b.raw(`,"value":[]}`)
		c.reply(http.StatusOK, b.b)
		return
	}
	end, tombs := st.offset, 0
	deleteCap := c.s.opts.Quirks.DriveDeletePageSize
	for end < len(items) && end-st.offset < opts.top {
		if items[end].driveTomb != nil {
			tombs++
		}
		end++
		if n := end - st.offset; deleteCap > 0 && n >= deleteCap && tombs*2 >= n {
			break
		}
	}
	if end < len(items) {
		next := *st
		next.offset, next.pageIndex, next.emptyServed = end, st.pageIndex+1, false
		b.raw(`,"@odata.nextLink":`)
		b.str(nextLink(cache.put(&next)))
	} else {
		next := syncState{kind: deltaDrive, drive: opts, baseline: st.round.upto, isDelta: true}
		link := base + "/delta?"
		if opts.query != "" {
			link += opts.query + "&"
		}
		b.raw(`,"@odata.deltaLink":`)
		b.str(link + "token=" + cache.put(&next))
	}
	b.raw(`,"value":[`)
	o := &driveRender{sel: opts.sel, explicit: opts.explicit, thumbs: opts.thumbs, inDelta: true, now: c.now}
	wrote := false
	for i := st.offset; i < end; i++ {
		it := &items[i]
		if it.driveItem != nil && it.driveItem.deleted {
			continue
		}
		if wrote {
			b.byte1(',')
		}
		wrote = true
		if it.driveTomb != nil {
			c.writeDriveTombstone(b, d, it.driveTomb, o)
		} else {
			c.writeDriveItem(b, d, it.driveItem, o)
		}
	}
	b.raw(`]}`)
	c.reply(http.StatusOK, b.b)
}
