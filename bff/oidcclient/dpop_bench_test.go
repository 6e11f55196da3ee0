package oidcclient

import "testing"

// BenchmarkDPoPProof is the cost a DPoP-bound route adds to each proxied
// call: one proof for the request's method and URL with ath.
func BenchmarkDPoPProof(b *testing.B) {
	k, err := NewDPoPKey()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Proof("GET", "http://127.0.0.1:9001/orders/42", "nonce-1", "access-token-value"); err != nil {
			b.Fatal(err)
		}
	}
}
