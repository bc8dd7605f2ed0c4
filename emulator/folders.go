package emulator

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// readBody reads the request body up to MaxRequestBody.
func (c *call) readBody() ([]byte, *graphError) {
	if c.r.Body == nil {
		return nil, nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, c.r.Body, c.s.opts.MaxRequestBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, newError(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "The request body is too large.")
		}
		return nil, errBadRequest("Unable to read the request body.")
	}
	return body, nil
}

// readJSON decodes a JSON object body into v.
func (c *call) readJSON(v any) *graphError {
	body, gerr := c.readBody()
	if gerr != nil {
		return gerr
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return errBadRequest("Empty Payload. JSON content expected.")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errBadRequest("Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")
	}
	return nil
}

func (c *call) getUser() {
	mb := c.mb
	var b jsonBuf
	b.raw(`{"@odata.context":`)
	b.str(c.metadata("users/$entity"))
	b.raw(`,"id":`)
	b.str(mb.objectID)
	b.raw(`,"displayName":`)
	b.str(mb.displayName)
	b.raw(`,"mail":`)
	b.str(mb.upn)
	b.raw(`,"userPrincipalName":`)
	b.str(mb.upn)
	b.raw(`}`)
	c.reply(http.StatusOK, b.b)
}

// folderSelect parses $select for folders.
func (c *call) folderSelect() (fieldSet, *graphError) {
	return parseSelect(c.query["$select"], folderFieldNames[:], allFolderFields, "microsoft.graph.mailFolder")
}

// pageParams reads $top and $skip for plain collection lists.
func (c *call) pageParams() (top, skip int, gerr *graphError) {
	top = c.s.opts.DefaultPageSize
	if v, ok := c.query["$top"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, 0, errBadRequest("Invalid $top value.")
		}
		top = min(n, maxPageSizeLimit)
	} else if c.prefs.maxPageSize > 0 {
		top = c.prefs.maxPageSize
	}
	if v, ok := c.query["$skip"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, 0, errBadRequest("Invalid $skip value.")
		}
		skip = n
	}
	return top, skip, nil
}

// nextPageLink rebuilds the request URL with $skip advanced.
func (c *call) nextPageLink(skip int) string {
	q := c.r.URL.Query()
	for k := range q {
		if strings.EqualFold(k, "$skip") {
			q.Del(k)
		}
	}
	q.Set("$skip", strconv.Itoa(skip))
	return c.origin() + c.r.URL.EscapedPath() + "?" + strings.ReplaceAll(q.Encode(), "%24", "$")
}

// listChildFolders lists the children of ref ("" = msgfolderroot). Hidden
// folders are left out unless includeHiddenFolders=true.
func (c *call) listChildFolders(ref string) {
	sel, gerr := c.folderSelect()
	if gerr != nil {
		c.fail(gerr)
		return
	}
	top, skip, gerr := c.pageParams()
	if gerr != nil {
		c.fail(gerr)
		return
	}
	includeHidden := strings.EqualFold(c.query["includehiddenfolders"], "true")
	mb := c.mb
	mb.mu.RLock()
	defer mb.mu.RUnlock()
	parent := mb.root
	context := c.userContext() + "/mailFolders"
	if ref != "" {
		f, gerr := mb.folderByRef(ref)
		if gerr != nil {
			c.fail(gerr)
			return
		}
		parent = f
		context = c.userContext() + "/mailFolders('" + f.id + "')/childFolders"
	}
	var visible []*folder
	for _, f := range parent.children {
		if includeHidden || !f.hidden {
			visible = append(visible, f)
		}
	}
	var b jsonBuf
	b.raw(`{"@odata.context":`)
	b.str(c.metadata(context))
	if skip+top < len(visible) {
		b.raw(`,"@odata.nextLink":`)
		b.str(c.nextPageLink(skip + top))
	}
	b.raw(`,"value":[`)
	for i := skip; i < len(visible) && i < skip+top; i++ {
		if i > skip {
			b.byte1(',')
		}
		writeFolder(&b, visible[i], sel, "")
	}
	b.raw(`]}`)
	c.reply(http.StatusOK, b.b)
}

func (c *call) getFolder(ref string) {
	sel, gerr := c.folderSelect()
	if gerr != nil {
		c.fail(gerr)
		return
	}
	mb := c.mb
	mb.mu.RLock()
	defer mb.mu.RUnlock()
	f, gerr := mb.folderByRef(ref)
	if gerr != nil {
		c.fail(gerr)
		return
	}
	var b jsonBuf
	writeFolder(&b, f, sel, c.metadata(c.userContext()+"/mailFolders/$entity"))
	c.reply(http.StatusOK, b.b)
}

// folderInput is the body of folder create and update.
type folderInput struct {
	DisplayName *string `json:"displayName"`
	IsHidden    *bool   `json:"isHidden"`
}

func validFolderName(name string) bool {
	return strings.TrimSpace(name) != "" && len(name) <= 255 && !strings.ContainsAny(name, "\x00")
}

func (c *call) createFolder(parentRef string) {
	var in folderInput
	if gerr := c.readJSON(&in); gerr != nil {
		c.fail(gerr)
		return
	}
	if in.DisplayName == nil || !validFolderName(*in.DisplayName) {
		c.fail(newError(http.StatusBadRequest, "ErrorInvalidRequest", "The displayName property is required."))
		return
	}
	mb := c.mb
	mb.mu.Lock()
	defer mb.mu.Unlock()
	parent := mb.root
	if parentRef != "" {
		p, gerr := mb.folderByRef(parentRef)
		if gerr != nil {
			c.fail(gerr)
			return
		}
		parent = p
	}
	for _, ch := range parent.children {
		if strings.EqualFold(ch.displayName, *in.DisplayName) {
			c.fail(newError(http.StatusConflict, "ErrorFolderExists", "A folder with the specified name already exists."))
			return
		}
	}
	f := mb.addUserFolder(parent, *in.DisplayName, in.IsHidden != nil && *in.IsHidden)
	var b jsonBuf
	writeFolder(&b, f, allFolderFields, c.metadata(c.userContext()+"/mailFolders/$entity"))
	c.reply(http.StatusCreated, b.b)
}

func (c *call) updateFolder(ref string) {
	var in folderInput
	if gerr := c.readJSON(&in); gerr != nil {
		c.fail(gerr)
		return
	}
	mb := c.mb
	mb.mu.Lock()
	defer mb.mu.Unlock()
	f, gerr := mb.folderByRef(ref)
	if gerr != nil {
		c.fail(gerr)
		return
	}
	if in.DisplayName != nil {
		if !validFolderName(*in.DisplayName) || f.wellKnown != "" {
			c.fail(newError(http.StatusBadRequest, "ErrorInvalidRequest", "The folder cannot be renamed to that name."))
			return
		}
		f.displayName = *in.DisplayName
		mb.seq++
		f.changeSeq = mb.seq
	}
	var b jsonBuf
	writeFolder(&b, f, allFolderFields, c.metadata(c.userContext()+"/mailFolders/$entity"))
	c.reply(http.StatusOK, b.b)
}

func (c *call) deleteFolder(ref string) {
	mb := c.mb
	mb.mu.Lock()
	defer mb.mu.Unlock()
	f, gerr := mb.folderByRef(ref)
	if gerr != nil {
		c.fail(gerr)
		return
	}
	if f.wellKnown != "" {
		c.fail(newError(http.StatusBadRequest, "ErrorDeleteDistinguishedFolder", "Distinguished folders cannot be deleted."))
		return
	}
	mb.deleteFolder(f)
	c.w.WriteHeader(http.StatusNoContent)
}
