package sink

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	syslog "github.com/leodido/go-syslog/v4"
	"github.com/leodido/go-syslog/v4/octetcounting"
	"github.com/leodido/go-syslog/v4/rfc5424"

	"github.com/custos-io/custos/internal/finding"
)

// syslogReceiver collects parsed RFC 5424 messages.
type syslogReceiver struct {
	mu    sync.Mutex
	msgs  []*rfc5424.SyslogMessage
	errs  []error
	conns int
}

func (r *syslogReceiver) add(m syslog.Message, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.errs = append(r.errs, err)
		return
	}
	r.msgs = append(r.msgs, m.(*rfc5424.SyslogMessage))
}

func (r *syslogReceiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs) + len(r.errs)
}

// listenUDP receives datagrams, one message each (RFC 5426).
func listenUDP(t *testing.T) (*syslogReceiver, string) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	r := &syslogReceiver{}
	go func() {
		buf := make([]byte, 1<<16)
		p := rfc5424.NewParser()
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			r.add(p.Parse(append([]byte(nil), buf[:n]...)))
		}
	}()
	return r, pc.LocalAddr().String()
}

// listenStream accepts TCP (or TLS, if conf is set) connections and parses
// octet-counted frames (RFC 6587). closeAfter > 0 closes each connection
// after that many messages, as a restarting receiver would.
func listenStream(t *testing.T, conf *tls.Config, closeAfter int) (*syslogReceiver, string) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if conf != nil {
		l = tls.NewListener(l, conf)
	}
	var wg sync.WaitGroup
	var cmu sync.Mutex
	var open []net.Conn
	t.Cleanup(func() {
		l.Close()
		cmu.Lock()
		for _, c := range open {
			c.Close()
		}
		cmu.Unlock()
		wg.Wait()
	})
	r := &syslogReceiver{}
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			cmu.Lock()
			open = append(open, c)
			cmu.Unlock()
			r.mu.Lock()
			r.conns++
			r.mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				seen := 0
				octetcounting.NewParser(syslog.WithListener(func(res *syslog.Result) {
					r.add(res.Message, res.Error)
					seen++
					if closeAfter > 0 && seen == closeAfter {
						c.Close()
					}
				})).Parse(c)
			})
		}
	})
	return r, l.Addr().String()
}

// selfSigned makes a certificate for 127.0.0.1 and writes it as a CA file.
func selfSigned(t *testing.T) (tls.Certificate, string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "custos-test-receiver"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, caFile
}

func cefSink(t *testing.T, sc SyslogConfig) Sink {
	t.Helper()
	c := Config{Name: "cef-" + sc.Network, Type: TypeCEF, Start: "earliest", Syslog: &sc}
	s, err := c.Build(BuildOptions{Product: testProduct, Clock: newFakeClock(), Hostname: "custos-test"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCEFOverSyslogReachesRealReceivers(t *testing.T) {
	cert, caFile := selfSigned(t)
	type setup struct {
		recv *syslogReceiver
		conf SyslogConfig
	}
	cases := map[string]func() setup{
		"udp": func() setup {
			r, addr := listenUDP(t)
			return setup{r, SyslogConfig{Network: "udp", Address: addr}}
		},
		"tcp": func() setup {
			r, addr := listenStream(t, nil, 0)
			return setup{r, SyslogConfig{Network: "tcp", Address: addr, Facility: "authpriv"}}
		},
		"tls": func() setup {
			r, addr := listenStream(t, &tls.Config{Certificates: []tls.Certificate{cert}}, 0)
			return setup{r, SyslogConfig{Network: "tls", Address: addr, TLS: TLSConfig{CAFile: caFile}}}
		},
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			st := mk()
			d, err := NewDispatcher(context.Background(), &Mem{}, []Sink{cefSink(t, st.conf)}, Options{Clock: newFakeClock()})
			if err != nil {
				t.Fatal(err)
			}
			fs := append([]*finding.Finding{trickyAlert(), sampleCase("al-1", "al-2")}, numbered(5)...)
			appendAll(t, d, fs)
			runDispatcher(t, d)
			eventually(t, "all messages received", func() bool { return st.recv.count() >= len(fs) })

			st.recv.mu.Lock()
			defer st.recv.mu.Unlock()
			if len(st.recv.errs) > 0 {
				t.Fatalf("receiver could not parse: %v", st.recv.errs)
			}
			facility := uint8(20) // local4
			if st.conf.Facility == "authpriv" {
				facility = 10
			}
			for i, m := range st.recv.msgs {
				f := fs[i]
				if !m.Valid() || m.Version != 1 {
					t.Fatalf("message %d not valid RFC 5424", i)
				}
				if *m.Facility != facility || *m.Severity != syslogSeverity[f.Severity] {
					t.Errorf("message %d: facility %d severity %d, want %d and %d", i, *m.Facility, *m.Severity, facility, syslogSeverity[f.Severity])
				}
				if *m.Hostname != "custos-test" || *m.Appname != "custos" || *m.MsgID != string(f.Kind) {
					t.Errorf("message %d: header %s %s %s", i, *m.Hostname, *m.Appname, *m.MsgID)
				}
				if !m.Timestamp.Equal(f.Time) {
					t.Errorf("message %d: timestamp %s, want the finding time %s", i, m.Timestamp, f.Time)
				}
				h, ext := parseCEF(t, *m.Message)
				if h[4] != title(f) || ext["externalId"] != f.ID || ext["msg"] != f.Summary {
					t.Errorf("message %d: CEF signature %q id %q msg %q do not round-trip (want %q %q %q)",
						i, h[4], ext["externalId"], ext["msg"], title(f), f.ID, f.Summary)
				}
			}
		})
	}
}

func TestSyslogTCPReconnectsAfterReceiverClosed(t *testing.T) {
	recv, addr := listenStream(t, nil, 1)
	d, err := NewDispatcher(context.Background(), &Mem{}, []Sink{cefSink(t, SyslogConfig{Network: "tcp", Address: addr})}, Options{Clock: newFakeClock()})
	if err != nil {
		t.Fatal(err)
	}
	runDispatcher(t, d)
	fs := numbered(3)
	for i, f := range fs {
		appendAll(t, d, []*finding.Finding{f})
		eventually(t, "message received", func() bool { return recv.count() == i+1 })
		// The receiver hangs up after each message; let its close land
		// before the next finding is sent on the old connection.
		eventually(t, "receiver closed", func() bool { recv.mu.Lock(); defer recv.mu.Unlock(); return recv.conns == i+1 })
	}
	if recv.conns != 3 {
		t.Errorf("%d connections, want a new one per message after each hang-up", recv.conns)
	}
}

func TestSyslogTLSRefusesUntrustedReceiver(t *testing.T) {
	cert, _ := selfSigned(t)
	_, otherCA := selfSigned(t)
	_, addr := listenStream(t, &tls.Config{Certificates: []tls.Certificate{cert}}, 0)
	s := cefSink(t, SyslogConfig{Network: "tls", Address: addr, TLS: TLSConfig{CAFile: otherCA}})
	defer s.Sender.Close()
	_, err := s.Sender.Send(context.Background(), []Record{{Seq: 1, Finding: trickyAlert()}})
	var verr *tls.CertificateVerificationError
	if !errors.As(err, &verr) {
		t.Errorf("Send to a receiver with an untrusted certificate: %v, want a certificate verification error", err)
	}
}
