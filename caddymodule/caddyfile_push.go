package caddymodule

import (
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddytls"
)

// unmarshalPush reads the push block (its syntax is in UnmarshalCaddyfile's
// doc comment) at d's start into h.Push. Values are only parsed here; they
// are checked at provision time, where the keys are read.
func (h *Handler) unmarshalPush(d *caddyfile.Dispenser) error {
	d.Next() // push
	if d.NextArg() {
		return d.ArgErr()
	}
	if h.Push != nil {
		return d.Err("push is given twice")
	}
	c := new(PushConfig)
	h.Push = c
	for d.NextBlock(0) {
		name := d.Val()
		var err error
		switch name {
		case "public_url":
			c.PublicURL, err = oneArg(d)
		case "subscription_ttl":
			c.SubscriptionTTL, err = parseDuration(d, name, d.RemainingArgs())
		case "send_timeout":
			c.SendTimeout, err = parseDuration(d, name, d.RemainingArgs())
		case "push_reseal_after":
			c.ResealAfter, err = parseDuration(d, name, d.RemainingArgs())
		case "max_inflight_sends":
			c.MaxInflightSends, err = parseCount(d, name, d.RemainingArgs())
		case "trust_pool":
			err = unmarshalTrustPool(d, c)
		case "apns":
			err = unmarshalAPNs(d, c)
		case "fcm":
			err = unmarshalFCM(d, c)
		case "webpush":
			err = unmarshalWebPush(d, c)
		default:
			return d.Errf("unrecognized push subdirective %s", name)
		}
		if err != nil {
			return err
		}
	}
	if c.PublicURL == "" {
		return d.Err("push needs public_url, the bridge's public https URL where Graph posts notifications")
	}
	if c.APNs == nil && c.FCM == nil && c.WebPush == nil {
		return d.Err("push needs at least one of apns, fcm and webpush")
	}
	return nil
}

// oneArg returns the single argument of the subdirective at d's cursor.
func oneArg(d *caddyfile.Dispenser) (string, error) {
	args := d.RemainingArgs()
	if len(args) != 1 {
		return "", d.ArgErr()
	}
	return args[0], nil
}

// unmarshalTrustPool reads `trust_pool <module> [...]` like
// reverse_proxy's tls_trust_pool: a tls.ca_pool.source module and its own
// Caddyfile syntax.
func unmarshalTrustPool(d *caddyfile.Dispenser, c *PushConfig) error {
	if c.TrustPoolRaw != nil {
		return d.Err("push trust_pool is given twice")
	}
	if !d.NextArg() {
		return d.ArgErr()
	}
	stem := d.Val()
	id := "tls.ca_pool.source." + stem
	unm, err := caddyfile.UnmarshalModule(d, id)
	if err != nil {
		return err
	}
	ca, ok := unm.(caddytls.CA)
	if !ok {
		return d.Errf("module %s is not a certificate pool source", id)
	}
	c.TrustPoolRaw = caddyconfig.JSONModuleObject(ca, "provider", stem, nil)
	return nil
}

// eachPlatformSetting walks the block of a platform subdirective, handing
// each setting's name and arguments to set.
func eachPlatformSetting(d *caddyfile.Dispenser, platform string, set func(name string, args []string) (bool, error)) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		name := d.Val()
		args := d.RemainingArgs()
		known, err := set(name, args)
		if err != nil {
			return err
		}
		if !known {
			return d.Errf("unrecognized push %s subdirective %s", platform, name)
		}
	}
	return nil
}

func unmarshalAPNs(d *caddyfile.Dispenser, c *PushConfig) error {
	if c.APNs != nil {
		return d.Err("push apns is given twice")
	}
	a := new(APNsConfig)
	c.APNs = a
	return eachPlatformSetting(d, "apns", func(name string, args []string) (bool, error) {
		var field *string
		switch name {
		case "key_file":
			field = &a.KeyFile
		case "key_id":
			field = &a.KeyID
		case "team_id":
			field = &a.TeamID
		case "topic":
			field = &a.Topic
		case "endpoint":
			field = &a.Endpoint
		case "sandbox_endpoint":
			field = &a.SandboxEndpoint
		default:
			return false, nil
		}
		if len(args) != 1 {
			return true, d.ArgErr()
		}
		*field = args[0]
		return true, nil
	})
}

func unmarshalFCM(d *caddyfile.Dispenser, c *PushConfig) error {
	if c.FCM != nil {
		return d.Err("push fcm is given twice")
	}
	f := new(FCMConfig)
	c.FCM = f
	return eachPlatformSetting(d, "fcm", func(name string, args []string) (bool, error) {
		var field *string
		switch name {
		case "credentials_file":
			field = &f.CredentialsFile
		case "project_id":
			field = &f.ProjectID
		case "endpoint":
			field = &f.Endpoint
		case "priority":
			if len(args) == 1 && args[0] != "normal" && args[0] != "high" {
				return true, d.Errf("push fcm priority takes normal or high, got %q", args[0])
			}
			field = &f.Priority
		default:
			return false, nil
		}
		if len(args) != 1 {
			return true, d.ArgErr()
		}
		*field = args[0]
		return true, nil
	})
}

func unmarshalWebPush(d *caddyfile.Dispenser, c *PushConfig) error {
	if c.WebPush != nil {
		return d.Err("push webpush is given twice")
	}
	w := new(WebPushConfig)
	c.WebPush = w
	return eachPlatformSetting(d, "webpush", func(name string, args []string) (bool, error) {
		switch name {
		case "vapid_key_file", "subject":
			if len(args) != 1 {
				return true, d.ArgErr()
			}
			if name == "subject" {
				w.Subject = args[0]
			} else {
				w.VAPIDKeyFile = args[0]
			}
		case "allow_hosts":
			if len(args) == 0 {
				return true, d.ArgErr()
			}
			w.AllowHosts = append(w.AllowHosts, args...)
		default:
			return false, nil
		}
		return true, nil
	})
}
