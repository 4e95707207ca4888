package proxy

import (
	"net/http"
	"slices"
)

// VcapCookie is the cookie naming the instance of a sticky session.
const VcapCookie = "__VCAP_ID__"

// modifyResponse implements sticky sessions as CF's gorouter does. When the
// backend starts a session (sets one of Config.StickyCookies), the client
// also gets a __VCAP_ID__ cookie naming the instance, with the session
// cookie's lifetime and attributes; requests carrying it go to that
// instance while it is registered. When a request named an instance that is
// gone and was served by another, the cookie is re-pointed at the new one.
// A response that sets __VCAP_ID__ itself is left alone.
func (p *Proxy) modifyResponse(resp *http.Response) error {
	st, ok := resp.Request.Context().Value(stateKey{}).(*reqState)
	if !ok {
		return nil
	}
	st.mu.Lock()
	e := st.endpoint
	st.mu.Unlock()
	if e == nil || e.PrivateInstanceID == "" {
		return nil
	}
	var session *http.Cookie
	if len(resp.Header.Values("Set-Cookie")) > 0 {
		for _, c := range resp.Cookies() {
			if c.Name == VcapCookie {
				return nil
			}
			if slices.Contains(p.cfg.StickyCookies, c.Name) {
				session = c
			}
		}
	}
	v := &http.Cookie{
		Name:     VcapCookie,
		Value:    e.PrivateInstanceID,
		Path:     "/",
		HttpOnly: true,
		Secure:   p.cfg.SecureCookies,
	}
	switch {
	case session != nil:
		v.MaxAge = session.MaxAge
		v.Expires = session.Expires
		v.Secure = v.Secure || session.Secure
		v.SameSite = session.SameSite
		v.Partitioned = session.Partitioned
	case st.stickyID != "" && st.stickyID != e.PrivateInstanceID:
		// The session's instance is gone; keep the session on the new one.
	default:
		return nil
	}
	if s := v.String(); s != "" {
		resp.Header.Add("Set-Cookie", s)
	}
	return nil
}
