package dedup

import (
	"net/url"
	"strings"
)

// trackingParams are query parameters that identify a campaign, a click or
// a newsletter send rather than the resource. The same article shared from
// a newsletter and from a social network differs only in these, so they
// are dropped before URLs are compared. The list is deliberately explicit:
// a parameter that might select content (id, page, ref, source) stays.
var trackingParams = map[string]bool{
	// Ad and social click ids.
	"fbclid": true, "gclid": true, "gclsrc": true, "dclid": true,
	"gbraid": true, "wbraid": true, "msclkid": true, "yclid": true,
	"igshid": true, "ttclid": true, "twclid": true, "li_fat_id": true,
	"sc_cid": true, "epik": true, "irclickid": true, "rb_clickid": true,
	"fb_action_ids": true, "fb_action_types": true, "fb_ref": true,
	"fb_source": true, "__twitter_impression": true,
	// Analytics and newsletter tools.
	"_ga": true, "_gl": true, // Google Analytics cross-domain
	"mc_cid": true, "mc_eid": true, // Mailchimp
	"_hsenc": true, "_hsmi": true, "__hstc": true, "__hssc": true,
	"__hsfp": true, "hsctatracking": true, // HubSpot
	"mkt_tok":     true, // Marketo
	"vero_id":     true,
	"oly_anon_id": true, "oly_enc_id": true, // Omeda
	"s_cid":    true,                                // Adobe Analytics
	"wt.mc_id": true, "wt_mc": true, "wt_zmc": true, // Webtrends
	"pk_campaign": true, "pk_kwd": true, "pk_source": true,
	"pk_medium": true, "pk_content": true, // Piwik
	"mtm_campaign": true, "mtm_kwd": true, "mtm_source": true,
	"mtm_medium": true, "mtm_content": true, "mtm_cid": true,
	"mtm_group": true, "mtm_placement": true, // Matomo
	"ns_campaign": true, "ns_mchannel": true, "ns_source": true,
	"ns_linkname": true, "ns_fee": true, // comScore
	"xtor":      true, // AT Internet (French sites)
	"at_medium": true, "at_campaign": true, "at_custom1": true,
	"at_custom2": true, "at_custom3": true, "at_custom4": true,
	"at_link_id": true, "at_link_origin": true, "at_link_type": true,
	"at_ptr_name": true, "at_format": true, "at_bbc_team": true, // AT Internet (BBC)
	// Publisher share and campaign ids.
	"ref_src": true, "ref_url": true, // Twitter/X share links
	"cmpid": true, "ncid": true, "ocid": true, "icid": true,
	"smid": true, "hootpostid": true,
	"guce_referrer": true, "guce_referrer_sig": true, "guccounter": true, // Yahoo consent redirects
}

// isTrackingParam reports whether the query parameter named key (already
// decoded) identifies a campaign or click rather than the resource. Every
// utm_* parameter is tracking.
func isTrackingParam(key string) bool {
	k := strings.ToLower(key)
	if strings.HasPrefix(k, "utm_") {
		return true
	}
	return trackingParams[k]
}

// CanonicalURL returns the form of an http(s) URL that syndic compares to
// decide whether two links point at the same article: the scheme and host
// lower-cased, the default port, user info and fragment dropped, dot
// segments resolved, an empty path made "/", and tracking parameters
// (utm_*, fbclid, gclid, ... see trackingParams) removed while the other
// parameters keep their order and spelling. Path percent-encoding is
// normalized by net/url, except that an encoded slash stays encoded
// because it changes the path's meaning.
//
// It returns "" for an empty, unparsable, relative or non-http(s) URL.
// CanonicalURL is idempotent.
func CanonicalURL(raw string) string {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		return ""
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return ""
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return ""
	}
	if strings.Contains(host, ":") { // IPv6 literal
		host = "[" + host + "]"
	}
	if port := u.Port(); port != "" && !(u.Scheme == "http" && port == "80") && !(u.Scheme == "https" && port == "443") {
		host += ":" + port
	}
	u.Host = host
	// Credentials never identify an article, and must not be stored or
	// compared as if they did.
	u.User = nil
	u.Fragment, u.RawFragment = "", ""

	// An encoded slash is a different path from a real one; every other
	// escape is re-encoded canonically by net/url.
	rawPath := u.RawPath
	if !strings.Contains(strings.ToLower(rawPath), "%2f") {
		rawPath = ""
	}
	ref := &url.URL{Path: u.Path, RawPath: rawPath}
	if ref.Path == "" {
		ref.Path, ref.RawPath = "/", ""
	}
	if !strings.HasPrefix(ref.Path, "/") {
		ref.Path = "/" + ref.Path
		if ref.RawPath != "" {
			ref.RawPath = "/" + ref.RawPath
		}
	}
	// ResolveReference removes "." and ".." segments as RFC 3986 5.2.4
	// describes, keeping a trailing slash.
	resolved := u.ResolveReference(ref)
	u.Path, u.RawPath = resolved.Path, resolved.RawPath

	u.RawQuery = cleanQuery(u.RawQuery)
	u.ForceQuery = false
	return u.String()
}

// cleanQuery drops tracking parameters and empty pairs from a raw query,
// keeping the remaining pairs byte for byte and in their order: reordering
// or re-encoding them could change what a server returns.
func cleanQuery(rawQuery string) string {
	if rawQuery == "" {
		return ""
	}
	parts := strings.Split(rawQuery, "&")
	kept := parts[:0]
	for _, p := range parts {
		if p == "" {
			continue
		}
		key, _, _ := strings.Cut(p, "=")
		if k, err := url.QueryUnescape(key); err == nil {
			key = k
		}
		if isTrackingParam(key) {
			continue
		}
		kept = append(kept, p)
	}
	return strings.Join(kept, "&")
}
