package rpc

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skerrydb/skerry/regionraft"
)

// testCA issues certificates for the TLS tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
	next int64
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "skerry test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool, next: 2}
}

// issue returns a certificate for cn, valid for 127.0.0.1, usable as both
// server and client certificate.
func (ca *testCA) issue(t *testing.T, cn string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca.next++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.next),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestMutualTLS(t *testing.T) {
	ca := newTestCA(t)
	var calls atomic.Int32
	h := newTestHandler()
	h.forward = func(context.Context, *ForwardRequest) (*ForwardResponse, error) {
		calls.Add(1)
		return &ForwardResponse{Reply: []byte("+PONG\r\n")}, nil
	}
	serverTLS := &tls.Config{
		Certificates: []tls.Certificate{ca.issue(t, "node-2")},
		ClientCAs:    ca.pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}
	_, addr := startServer(t, h, ServerOptions{TLS: serverTLS}, "")
	_, addrCN := startServer(t, h, ServerOptions{TLS: serverTLS, AllowedCommonNames: []string{"node-3"}}, "")
	r := newResolver()
	r.set(2, addr)
	r.set(3, addrCN)
	req := &ForwardRequest{Proto: 2, Args: [][]byte{[]byte("PING")}}
	ctx := context.Background()

	good := newTestClient(t, 1, r, ClientOptions{TLS: &tls.Config{
		RootCAs: ca.pool, Certificates: []tls.Certificate{ca.issue(t, "node-1")}, MinVersion: tls.VersionTLS12,
	}})
	resp, err := good.Forward(ctx, 2, req)
	if err != nil || string(resp.Reply) != "+PONG\r\n" {
		t.Fatalf("mTLS forward: %v %q", err, resp)
	}
	// Raft over mTLS too.
	good.Send([]regionraft.RaftMessage{raftMsg(2, 1)})
	h.waitSteps(t, 1)

	// No client certificate: rejected before any handler runs.
	before := calls.Load()
	anon := newTestClient(t, 1, r, ClientOptions{TLS: &tls.Config{RootCAs: ca.pool, MinVersion: tls.VersionTLS12}})
	if _, err := anon.Forward(ctx, 2, req); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("client without certificate: %v, want ErrUnreachable", err)
	}
	// A certificate from another CA: rejected.
	other := newTestCA(t)
	stranger := newTestClient(t, 1, r, ClientOptions{TLS: &tls.Config{
		RootCAs: ca.pool, Certificates: []tls.Certificate{other.issue(t, "node-1")}, MinVersion: tls.VersionTLS12,
	}})
	if _, err := stranger.Forward(ctx, 2, req); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("client with a foreign certificate: %v, want ErrUnreachable", err)
	}
	// Plaintext client against a TLS server: rejected.
	plain := newTestClient(t, 1, r, ClientOptions{})
	if _, err := plain.Forward(ctx, 2, req); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("plaintext client: %v, want ErrUnreachable", err)
	}
	// A valid certificate whose CN is not in the server's allowed list.
	if _, err := good.Forward(ctx, 3, req); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("CN not allowed: %v, want ErrUnreachable", err)
	}
	if calls.Load() != before {
		t.Fatal("a handler ran for a rejected client")
	}
	allowed := newTestClient(t, 1, r, ClientOptions{TLS: &tls.Config{
		RootCAs: ca.pool, Certificates: []tls.Certificate{ca.issue(t, "node-3")}, MinVersion: tls.VersionTLS12,
	}})
	if _, err := allowed.Forward(ctx, 3, req); err != nil {
		t.Fatalf("allowed CN: %v", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	if _, err := NewServer(newTestHandler(), ServerOptions{AllowedCommonNames: []string{"x"}}); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("AllowedCommonNames without mTLS: %v", err)
	}
	if _, err := NewClient(1, newResolver(), ClientOptions{MaxBatchBytes: DefaultMaxMsgSize}); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("MaxBatchBytes > MaxMsgSize/2: %v", err)
	}
	if _, err := NewClient(1, nil, ClientOptions{}); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("nil resolver: %v", err)
	}
	o := ClientOptions{}
	if err := o.Validate(); err != nil || o.QueueSize != DefaultQueueSize || o.MaxBackoff != DefaultMaxBackoff {
		t.Fatalf("defaults: %v %+v", err, o)
	}
}
