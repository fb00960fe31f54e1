package sftpd

import (
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"strongroom"
	"strongroom/internal/policy"
)

func TestNewAlgorithms(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	base := policy.Baseline().SSH
	with := func(f func(*policy.SSHPolicy)) policy.SSHPolicy {
		p := policy.SSHPolicy{Ciphers: slices.Clone(base.Ciphers), KeyExchanges: slices.Clone(base.KeyExchanges), MACs: slices.Clone(base.MACs)}
		f(&p)
		return p
	}
	for _, tt := range []struct {
		name    string
		algs    policy.SSHPolicy
		wantErr string // "" for success
	}{
		{"baseline", base, ""},
		{"CBC", with(func(p *policy.SSHPolicy) { p.Ciphers = []string{"aes128-cbc"} }), `"aes128-cbc"`},
		{"SHA-1 MAC", with(func(p *policy.SSHPolicy) { p.MACs = append(p.MACs, "hmac-sha1-96") }), `"hmac-sha1-96"`},
		{"SHA-1 key exchange", with(func(p *policy.SSHPolicy) { p.KeyExchanges = []string{"diffie-hellman-group1-sha1"} }), "diffie-hellman-group1-sha1"},
		{"unknown", with(func(p *policy.SSHPolicy) { p.Ciphers = append(p.Ciphers, "rot13") }), `"rot13"`},
		{"no MACs", with(func(p *policy.SSHPolicy) { p.MACs = nil }), "no ssh.macs"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(nil, nil, key, tt.algs, log)
			if tt.wantErr != "" {
				if !strongroom.Is(err, strongroom.Invalid) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New = %v; want Invalid naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c := s.conf
			if !slices.Equal(c.Ciphers, tt.algs.Ciphers) || !slices.Equal(c.KeyExchanges, tt.algs.KeyExchanges) || !slices.Equal(c.MACs, tt.algs.MACs) {
				t.Errorf("config offers %v %v %v; want the profile's lists", c.Ciphers, c.KeyExchanges, c.MACs)
			}
			if slices.Contains(c.PublicKeyAuthAlgorithms, ssh.KeyAlgoRSA) || slices.Contains(c.PublicKeyAuthAlgorithms, "ssh-dss") {
				t.Errorf("client keys accepted with %v; want no SHA-1 signatures and no DSA", c.PublicKeyAuthAlgorithms)
			}
			if c.ServerVersion != "SSH-2.0-Strongroom" {
				t.Errorf("version %q", c.ServerVersion)
			}
		})
	}
	if _, err := New(nil, nil, nil, base, log); !strongroom.Is(err, strongroom.Invalid) {
		t.Errorf("New without a host key = %v, want Invalid", err)
	}
}
