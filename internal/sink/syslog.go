package sink

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
)

// maxUDPMessage is the largest syslog datagram sent; beyond it the IPv4 UDP
// payload limit would cut the message.
const maxUDPMessage = 65507

// syslogSender writes RFC 5424 messages over UDP (one message per
// datagram, RFC 5426), TCP with octet counting (RFC 6587) or TCP+TLS (the
// same framing inside TLS, RFC 5425).
//
// Plain syslog has no acknowledgement: a message is counted delivered once
// the kernel took it. Before every batch the sender checks whether the
// receiver closed the connection meanwhile and reconnects if so, which
// catches a restarted receiver; a receiver that dies after reading part of a
// batch can still lose it. Use HEC or HTTP where that matters.
type syslogSender struct {
	network string // udp, tcp, tls
	addr    string
	tls     *tls.Config
	timeout time.Duration
	encode  func(*Record) ([]byte, error)

	raw  net.Conn // the TCP or UDP connection
	conn net.Conn // what is written to: raw, or TLS over it
}

func (s *syslogSender) Send(ctx context.Context, recs []Record) (int, error) {
	msgs := make([][]byte, len(recs))
	for i := range recs {
		m, err := s.encode(&recs[i])
		if err != nil {
			return i, Permanent(err)
		}
		if s.network == "udp" && len(m) > maxUDPMessage {
			return i, Permanent(fmt.Errorf("syslog: finding %s: %d-byte message does not fit a UDP datagram", recs[i].Finding.ID, len(m)))
		}
		msgs[i] = m
	}
	if s.conn != nil && s.network != "udp" && peerClosed(s.raw) {
		s.drop()
	}
	if s.conn == nil {
		if err := s.dial(ctx); err != nil {
			return 0, err
		}
	}
	if s.network == "udp" {
		for i, m := range msgs {
			_ = s.conn.SetWriteDeadline(time.Now().Add(s.timeout))
			if _, err := s.conn.Write(m); err != nil {
				s.drop()
				return i, fmt.Errorf("syslog udp %s: %w", s.addr, err)
			}
		}
		return len(msgs), nil
	}
	var buf bytes.Buffer
	for _, m := range msgs {
		buf.WriteString(strconv.Itoa(len(m)))
		buf.WriteByte(' ')
		buf.Write(m)
	}
	_ = s.conn.SetWriteDeadline(time.Now().Add(s.timeout))
	if _, err := s.conn.Write(buf.Bytes()); err != nil {
		// How much the receiver got is unknown: resend the whole batch.
		s.drop()
		return 0, fmt.Errorf("syslog %s %s: %w", s.network, s.addr, err)
	}
	return len(msgs), nil
}

func (s *syslogSender) dial(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	d := net.Dialer{}
	network := s.network
	if network == "tls" {
		network = "tcp"
	}
	raw, err := d.DialContext(ctx, network, s.addr)
	if err != nil {
		return fmt.Errorf("syslog %s %s: %w", s.network, s.addr, err)
	}
	s.raw, s.conn = raw, raw
	if s.network == "tls" {
		tc := tls.Client(raw, s.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			s.raw, s.conn = nil, nil
			return fmt.Errorf("syslog tls %s: handshake: %w", s.addr, err)
		}
		s.conn = tc
	}
	return nil
}

// peerClosed reports whether the receiver has closed the connection.
// Syslog receivers never send, so anything readable (EOF, a reset, a TLS
// close_notify) means the connection is finished; a read that times out
// means it is still open.
func peerClosed(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
	var b [1]byte
	_, err := c.Read(b[:])
	_ = c.SetReadDeadline(time.Time{})
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return true
}

func (s *syslogSender) drop() {
	if s.conn != nil {
		s.conn.Close()
	}
	s.raw, s.conn = nil, nil
}

func (s *syslogSender) Close() error {
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.raw, s.conn = nil, nil
	return err
}
