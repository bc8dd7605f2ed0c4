package push

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// ParseAPNsKey reads an APNs token-auth key: the PEM "PRIVATE KEY" (PKCS#8)
// of a P-256 key, as in the .p8 file Apple hands out.
func ParseAPNsKey(pemBytes []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("apns key: no PEM block")
	}
	if block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("apns key: PEM type %q, want PRIVATE KEY (PKCS#8 .p8)", block.Type)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("apns key: %w", err)
	}
	return p256Key("apns key", k)
}

// ParseVAPIDKey reads a VAPID private key: a PEM "EC PRIVATE KEY" (SEC 1) or
// "PRIVATE KEY" (PKCS#8) of a P-256 key.
func ParseVAPIDKey(pemBytes []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("vapid key: no PEM block")
	}
	var (
		k   any
		err error
	)
	switch block.Type {
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("vapid key: PEM type %q, want EC PRIVATE KEY or PRIVATE KEY", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("vapid key: %w", err)
	}
	return p256Key("vapid key", k)
}

// LoadAPNsKeyFile reads and parses an APNs .p8 key file.
func LoadAPNsKeyFile(path string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("apns key: %w", err)
	}
	return ParseAPNsKey(b)
}

// LoadVAPIDKeyFile reads and parses a VAPID PEM key file.
func LoadVAPIDKeyFile(path string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("vapid key: %w", err)
	}
	return ParseVAPIDKey(b)
}

func p256Key(what string, k any) (*ecdsa.PrivateKey, error) {
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: %T, want an ECDSA P-256 key", what, k)
	}
	if ek.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%s: curve %s, want P-256", what, ek.Curve.Params().Name)
	}
	return ek, nil
}
