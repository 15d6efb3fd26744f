package intel

import (
	"strings"
	"unsafe"

	"github.com/socbot/socbot/ioc"
)

// The lookup paths' string handling, without allocating and in as few passes as possible.

// normalURLHost is ioc.IsNormalURL and ioc.URLHost in one pass: when u is already in
// ioc.NormalizeURL's form it returns u's host and true (TestNormalURLHost checks it against the ioc
// functions).
func normalURLHost(u string) (string, bool) {
	k := strings.IndexByte(u, ':')
	if k <= 0 || len(u) < k+3 || u[k+1] != '/' || u[k+2] != '/' {
		return "", false
	}
	scheme := u[:k]
	for i := 0; i < k; i++ {
		if c := scheme[i]; c >= 'A' && c <= 'Z' || c >= 0x80 || c == '/' {
			return "", false
		}
	}
	rest := u[k+3:]
	colon := -1
	slash := -1
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if c == '/' {
			slash = i
			break
		}
		if c >= 'A' && c <= 'Z' || c == '@' || c == '[' || c == '?' || c == '#' || c >= 0x80 {
			return "", false
		}
		if c == ':' {
			colon = i
		}
	}
	if slash < 0 || strings.IndexByte(rest[slash:], '#') >= 0 {
		return "", false
	}
	host := rest[:slash]
	if colon >= 0 {
		port := host[colon+1:]
		host = host[:colon]
		if port == "" || scheme == "http" && port == "80" || scheme == "https" && port == "443" || scheme == "ftp" && port == "21" {
			return "", false
		}
	}
	if host == "" || host[len(host)-1] == '.' {
		return "", false
	}
	return host, true
}

// urlParts returns the canonical form of URL v and its host ("" when it has none).
func urlParts(v string) (string, string) {
	if host, ok := normalURLHost(v); ok {
		return v, host
	}
	v = strings.TrimSpace(v)
	if host, ok := normalURLHost(v); ok {
		return v, host
	}
	n := ioc.NormalizeURL(v)
	return n, ioc.URLHost(n)
}

const (
	swarOnes = 0x0101010101010101
	swarHigh = 0x8080808080808080
)

// hasUpperOrHigh reports whether any byte of x is in 'A'..'Z' or not ASCII.
func hasUpperOrHigh(x uint64) bool {
	if x&swarHigh != 0 {
		return true
	}
	// bytes > 'A'-1 and < 'Z'+1: both additions carry into bit 7 differently
	a := x + swarOnes*(0x80-'A')
	b := x + swarOnes*(0x80-'Z'-1)
	return (a^b)&swarHigh != 0
}

// lowerTrim trims space and lower-cases, without allocating when there is nothing to change; it
// checks eight bytes at a time.
func lowerTrim(v string) string {
	if len(v) > 0 && (v[0] <= ' ' || v[len(v)-1] <= ' ') {
		v = strings.TrimSpace(v)
	}
	i := 0
	for ; i+8 <= len(v); i += 8 {
		if hasUpperOrHigh(*(*uint64)(unsafe.Pointer(unsafe.StringData(v[i:])))) {
			return lowerFrom(v, i)
		}
	}
	for ; i < len(v); i++ {
		if c := v[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(v)
		}
	}
	return v
}

// lowerFrom lower-cases v, knowing that v[:i] needs nothing.
func lowerFrom(v string, i int) string {
	for ; i < len(v); i++ {
		if c := v[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(v)
		}
	}
	return v
}

// lastTwoDots returns the positions of the last dot of host and of the one before it (-1 when
// there is none); ok is false when host has no dot between two labels.
func lastTwoDots(host string) (i, j int, ok bool) {
	i = -1
	for k := len(host) - 1; k >= 0; k-- {
		if host[k] == '.' {
			if i < 0 {
				i = k
				continue
			}
			return i, k, i > 0 && i < len(host)-1
		}
	}
	return i, -1, i > 0 && i < len(host)-1
}
