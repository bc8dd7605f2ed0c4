package push

import (
	"encoding/json"
	"strings"
)

// quotaScope says whose quota an FCM QUOTA_EXCEEDED is about.
type quotaScope uint8

const (
	quotaUnknown quotaScope = iota
	quotaDevice             // the per-device message rate
	quotaProject            // the project's per-minute quota
)

// fcmError is what an FCM error body says.
type fcmError struct {
	status      string // the gRPC status, e.g. NOT_FOUND
	code        string // FcmError.errorCode, e.g. UNREGISTERED
	quota       quotaScope
	targetField bool // a field violation names message.token or message.fid
	aboutTarget bool // the message speaks of the registration token or installation id
}

// parseFCMError reads an FCM HTTP v1 error body:
//
//	{"error":{"code":404,"message":"…","status":"NOT_FOUND","details":[
//	  {"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"},
//	  {"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"subject":"…","description":"…"}]},
//	  {"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"message.token"}]},
//	  {"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"…","metadata":{…}}]}}
//
// Anything it cannot read leaves the fields empty.
func parseFCMError(body []byte) fcmError {
	var v struct {
		Error struct {
			Message string `json:"message"`
			Status  string `json:"status"`
			Details []struct {
				Type       string `json:"@type"`
				ErrorCode  string `json:"errorCode"`
				Reason     string `json:"reason"`
				Violations []struct {
					Subject     string `json:"subject"`
					Description string `json:"description"`
				} `json:"violations"`
				FieldViolations []struct {
					Field string `json:"field"`
				} `json:"fieldViolations"`
				Metadata map[string]string `json:"metadata"`
			} `json:"details"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &v) != nil {
		return fcmError{}
	}
	e := fcmError{status: cleanReason(v.Error.Status)}
	quotaText := strings.ToLower(v.Error.Message)
	for _, d := range v.Error.Details {
		switch {
		case strings.HasSuffix(d.Type, "google.firebase.fcm.v1.FcmError"):
			e.code = cleanReason(d.ErrorCode)
		case strings.HasSuffix(d.Type, "google.rpc.QuotaFailure"):
			for _, q := range d.Violations {
				quotaText += " " + strings.ToLower(q.Subject+" "+q.Description)
			}
		case strings.HasSuffix(d.Type, "google.rpc.BadRequest"):
			for _, f := range d.FieldViolations {
				if f.Field == "message.token" || f.Field == "message.fid" {
					e.targetField = true
				}
			}
		case strings.HasSuffix(d.Type, "google.rpc.ErrorInfo"):
			quotaText += " " + strings.ToLower(d.Reason)
			for k, val := range d.Metadata {
				quotaText += " " + strings.ToLower(k+" "+val)
			}
		}
	}
	msg := strings.ToLower(v.Error.Message)
	e.aboutTarget = strings.Contains(msg, "registration token") || strings.Contains(msg, "installation id")
	switch {
	case strings.Contains(quotaText, "device"):
		e.quota = quotaDevice
	case strings.Contains(quotaText, "project"), strings.Contains(quotaText, "quota_metric"),
		strings.Contains(quotaText, "quota metric"), strings.Contains(quotaText, "rate_limit_exceeded"):
		e.quota = quotaProject
	}
	return e
}

// reason is the code worth reporting: the FCM error code, else the status.
func (e fcmError) reason() string {
	if e.code != "" {
		return e.code
	}
	return e.status
}

// fcmVerdict is what to do with an FCM answer.
type fcmVerdict struct {
	outcome      Outcome
	trip         bool // open the breaker at once (project-wide back-off)
	refreshToken bool
}

// classifyFCM maps an FCM answer to an outcome.
func classifyFCM(status int, e fcmError) fcmVerdict {
	switch {
	case status >= 200 && status < 300:
		return fcmVerdict{outcome: Delivered}
	case e.code == "UNREGISTERED" || status == 404:
		return fcmVerdict{outcome: TargetGone}
	case e.code == "SENDER_ID_MISMATCH":
		// The token belongs to another sender: never deliverable by us.
		return fcmVerdict{outcome: TargetGone}
	case e.code == "QUOTA_EXCEEDED" || status == 429:
		switch e.quota {
		case quotaDevice:
			return fcmVerdict{outcome: TargetThrottled}
		case quotaProject:
			return fcmVerdict{outcome: ProviderFailure, trip: true}
		}
		// Unclear whose quota: count it toward the breaker, which only a
		// run of such answers opens.
		return fcmVerdict{outcome: ProviderFailure}
	case e.code == "INVALID_ARGUMENT" || status == 400:
		if e.targetField || e.aboutTarget {
			return fcmVerdict{outcome: TargetGone}
		}
		return fcmVerdict{outcome: Rejected}
	case e.code == "THIRD_PARTY_AUTH_ERROR":
		return fcmVerdict{outcome: ProviderFailure}
	case status == 401:
		return fcmVerdict{outcome: ProviderFailure, refreshToken: true}
	case status >= 500, status == 403:
		return fcmVerdict{outcome: ProviderFailure}
	case status >= 400 && status < 500:
		return fcmVerdict{outcome: Rejected}
	}
	return fcmVerdict{outcome: ProviderFailure}
}
