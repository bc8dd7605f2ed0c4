package deviceclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// Download is a streamed attachment or MIME message. The caller reads Body
// and must close it.
type Download struct {
	Body io.ReadCloser
	// ContentType is the bridge's Content-Type (message/rfc822 for MIME).
	ContentType string
	// Size is the length in bytes, or -1 when the bridge did not say.
	Size int64
}

// Attachment streams one attachment's bytes. mailbox may be "" (the
// token's own mailbox).
func (c *Client) Attachment(ctx context.Context, mailbox, messageID, attachmentID string) (*Download, error) {
	return c.download(ctx, "/messages/"+url.PathEscape(messageID)+"/attachments/"+url.PathEscape(attachmentID), mailbox)
}

// MIME streams a message as MIME (message/rfc822).
func (c *Client) MIME(ctx context.Context, mailbox, messageID string) (*Download, error) {
	return c.download(ctx, "/messages/"+url.PathEscape(messageID)+"/mime", mailbox)
}

// FileContent streams a drive file's bytes through the bridge (which
// fetches Graph's pre-authenticated URL itself). drive is "" for the
// user's own drive.
func (c *Client) FileContent(ctx context.Context, mailbox, drive, fileID string) (*Download, error) {
	path := "/files/" + url.PathEscape(fileID) + "/content"
	if drive != "" {
		path += "?drive=" + url.QueryEscape(drive)
		if mailbox != "" {
			path += "&mailbox=" + url.QueryEscape(mailbox)
		}
		mailbox = ""
	}
	return c.download(ctx, path, mailbox)
}

func (c *Client) download(ctx context.Context, path, mailbox string) (*Download, error) {
	if mailbox != "" {
		path += "?mailbox=" + url.QueryEscape(mailbox)
	}
	var d *Download
	err := c.withRetries(ctx, func() error {
		req, err := c.newRequest(ctx, http.MethodGet, path, nil)
		if err != nil {
			return err
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			defer resp.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			return envelopeError(resp, body)
		}
		d = &Download{Body: resp.Body, ContentType: resp.Header.Get("Content-Type"), Size: resp.ContentLength}
		return nil
	})
	return d, err
}

// SendMIME sends a whole MIME message (message/rfc822) through the
// mime/send endpoint. size is the message's length when known (-1 when
// not; the body is then sent chunked). It is not retried: body is read
// once.
func (c *Client) SendMIME(ctx context.Context, mailbox string, body io.Reader, size int64) error {
	if body == nil {
		return errors.New("deviceclient: SendMIME needs a body")
	}
	path := "/mime/send"
	if mailbox != "" {
		path += "?mailbox=" + url.QueryEscape(mailbox)
	}
	req, err := c.newRequest(ctx, http.MethodPost, path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "message/rfc822")
	req.ContentLength = size
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return fmt.Errorf("deviceclient: reading the answer: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		return envelopeError(resp, answer)
	}
	return nil
}
