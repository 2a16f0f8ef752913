package scim

import "context"

func withPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// principalFrom returns the authenticated client, or nil.
func principalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

func withBase(ctx context.Context, base string) context.Context {
	return context.WithValue(ctx, baseKey{}, base)
}

// baseFrom returns the SCIM root URL of the request.
func baseFrom(ctx context.Context) string {
	b, _ := ctx.Value(baseKey{}).(string)
	return b
}
