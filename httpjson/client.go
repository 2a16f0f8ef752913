package httpjson

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

type clientKey struct{}

// ClientIP returns the address of the client a request comes from: the one
// ClientAddress found for it, else the peer address without its port.
func ClientIP(r *http.Request) string {
	if ip, ok := r.Context().Value(clientKey{}).(string); ok {
		return ip
	}
	return peerIP(r.RemoteAddr)
}

func peerIP(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return strings.Trim(remote, "[]")
	}
	return host
}

// ClientAddress is middleware that decides once per request who the
// client is, so that every door, log and limiter agrees. The peer address
// is the client unless the peer is a trusted proxy; then the client is the
// right-most address of X-Forwarded-For that is not itself a trusted proxy
// (entries left of it could be forged by the client).
func ClientAddress(trusted []netip.Prefix, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := peerIP(r.RemoteAddr)
		if len(trusted) > 0 && isTrusted(trusted, ip) {
			ip = forwardedClient(trusted, r.Header.Values("X-Forwarded-For"), ip)
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientKey{}, ip)))
	})
}

func forwardedClient(trusted []netip.Prefix, headers []string, peer string) string {
	var hops []string
	for _, h := range headers {
		for _, part := range strings.Split(h, ",") {
			hops = append(hops, strings.TrimSpace(part))
		}
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		addr, err := netip.ParseAddr(hops[i])
		if err != nil {
			break // a malformed hop: trust nothing beyond it
		}
		client = addr.Unmap().String()
		if !isTrusted(trusted, client) {
			break
		}
	}
	return client
}

func isTrusted(trusted []netip.Prefix, ip string) bool {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	for _, p := range trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
