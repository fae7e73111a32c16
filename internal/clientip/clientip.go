// Package clientip reads the address of the client of an HTTP request:
// the peer's address, or, behind proxies that the service names as
// trusted (a load balancer), the address they saw, from X-Forwarded-For.
//
// Without trusted proxies the header is ignored: anyone can send it. With
// them, the header is read from its end: each address is the peer of the
// one after it, and the client is the last one that is not a trusted
// proxy. A header that a client wrote itself sits before the addresses
// the proxies added, so that it cannot choose the address the limits
// count.
package clientip

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Resolver finds a request's client address. The zero Resolver trusts no
// proxy.
type Resolver struct {
	trusted []netip.Prefix
}

// Parse reads a comma-separated list of trusted proxies: addresses
// (192.0.2.7, 2001:db8::1) and networks (10.0.0.0/8). An empty list
// trusts none.
func Parse(list string) (Resolver, error) {
	var r Resolver
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				return Resolver{}, fmt.Errorf("clientip: %q is neither an address nor a network", f)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		r.trusted = append(r.trusted, p.Masked())
	}
	return r, nil
}

// Trusts reports whether the resolver trusts any proxy.
func (r Resolver) Trusts() bool { return len(r.trusted) > 0 }

func (r Resolver) trustedAddr(s string) bool {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Peer is the address of the request's peer (RemoteAddr without its port).
func Peer(req *http.Request) string {
	host, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		return req.RemoteAddr
	}
	return host
}

// IP is the client's address of req.
func (r Resolver) IP(req *http.Request) string {
	ip := Peer(req)
	if !r.trustedAddr(ip) {
		return ip
	}
	var hops []string
	for _, h := range req.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(h, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		h := strings.TrimSpace(hops[i])
		a, err := netip.ParseAddr(h)
		if err != nil {
			return ip // damaged: the last address known
		}
		ip = a.Unmap().String()
		if !r.trustedAddr(ip) {
			return ip
		}
	}
	return ip
}
