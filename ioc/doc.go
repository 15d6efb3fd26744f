// Package ioc finds indicators of compromise (IP addresses, CIDRs, domains, URLs, e-mail addresses,
// file hashes, CVE ids and ATT&CK technique ids) in free text such as advisories, blog posts, chat
// messages and social media posts.
//
// The extractor makes one pass over the text: it splits it into tokens at whitespace and hard
// delimiters, and only tokens that carry an anchor (a dot, a colon, an '@', a defang bracket, a long
// alphanumeric run or a CVE/Txxxx prefix) are looked at further. Defanged forms (hxxp, [.], (.), [dot],
// [:], [@], [at], \., "]]://" ...) are refanged before validation; domains must end in a top-level domain
// of the public suffix list, which rejects file names (invoice.exe) and version numbers (1.2.3). No
// regular expression is used, so the work is linear in the size of the text.
//
// Normalize and Classify give the same canonical forms for values read from structured feeds, so that
// an indicator extracted from a post and the same indicator from a CSV feed compare equal.
package ioc
