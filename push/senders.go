package push

import "errors"

// Senders holds the configured senders; a nil field is a platform the
// operator did not configure.
type Senders struct {
	APNs    *APNs
	FCM     *FCM
	WebPush *WebPush
}

// For returns the sender of platform p, or nil when it is not configured
// (push.subscribe then answers invalid_args naming the platform).
func (s *Senders) For(p Platform) Sender {
	switch {
	case p == PlatformAPNs && s.APNs != nil:
		return s.APNs
	case p == PlatformFCM && s.FCM != nil:
		return s.FCM
	case p == PlatformWebPush && s.WebPush != nil:
		return s.WebPush
	}
	return nil
}

// Close closes every configured sender.
func (s *Senders) Close() error {
	var errs []error
	for _, p := range []Platform{PlatformAPNs, PlatformFCM, PlatformWebPush} {
		if x := s.For(p); x != nil {
			errs = append(errs, x.Close())
		}
	}
	return errors.Join(errs...)
}

// Interface guards.
var (
	_ Sender = (*APNs)(nil)
	_ Sender = (*FCM)(nil)
	_ Sender = (*WebPush)(nil)
)
