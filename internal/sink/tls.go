package sink

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// TLSConfig is the client side of TLS towards a receiver.
type TLSConfig struct {
	// CAFile is a PEM bundle of the authorities to trust instead of the
	// system's (a private SIEM CA, a self-signed receiver).
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are a client certificate, for receivers that
	// require mutual TLS.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName overrides the name checked in the receiver's certificate.
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify accepts any certificate. For tests only: it makes
	// TLS pointless against an active attacker.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

func (c *TLSConfig) validate() error {
	if (c.CertFile == "") != (c.KeyFile == "") {
		return errors.New("tls: cert_file and key_file go together")
	}
	return nil
}

// build reads the files and returns the crypto/tls client configuration.
func (c *TLSConfig) build() (*tls.Config, error) {
	conf := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         c.ServerName,
		InsecureSkipVerify: c.InsecureSkipVerify, //nolint:gosec // documented as test-only
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca_file %s: no PEM certificate in it", c.CAFile)
		}
		conf.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls: client certificate %s: %w", c.CertFile, err)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	return conf, nil
}
