package report

import (
	"fmt"
	"html"
	"html/template"
	"strings"

	socbot "github.com/socbot/socbot"
)

// The charts are inline SVG written here: no script, no fonts to fetch, byte-for-byte the same for
// the same numbers, and printed by Chromium exactly as the browser shows them.

// niceMax returns the top of an axis with four gridlines at round numbers: four times a step of 1, 2
// or 5 times a power of ten.
func niceMax(v int64) int64 {
	if v <= 0 {
		return 4
	}
	need := (v + 3) / 4
	p := int64(1)
	for {
		for _, f := range []int64{1, 2, 5} {
			if f*p >= need {
				return 4 * f * p
			}
		}
		p *= 10
	}
}

// columns draws one column per value (a daily series) with a few x labels.
func columns(title string, values []int64, labels []string, color string) template.HTML {
	const w, h, left, bottom, top = 640.0, 200.0, 48.0, 24.0, 12.0
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`, w, h, html.EscapeString(title))
	var maxV int64
	for _, v := range values {
		maxV = max(maxV, v)
	}
	top1 := niceMax(maxV)
	plotH := h - bottom - top
	for i := 0; i <= 4; i++ {
		y := top + plotH - plotH*float64(i)/4
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#ddd" stroke-width="1"/>`, left, y, w, y)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" font-size="10" text-anchor="end" fill="#555">%s</text>`, left-4, y+3, num(top1*int64(i)/4))
	}
	if n := len(values); n > 0 {
		slot := (w - left) / float64(n)
		bw := slot * 0.75
		for i, v := range values {
			bh := plotH * float64(v) / float64(top1)
			x := left + float64(i)*slot + (slot-bw)/2
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %s</title></rect>`,
				x, top+plotH-bh, bw, bh, color, html.EscapeString(labels[i]), num(v))
		}
		step := max(1, (n+7)/8)
		for i := 0; i < n; i += step {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" font-size="10" text-anchor="middle" fill="#555">%s</text>`,
				left+float64(i)*slot+slot/2, h-8, html.EscapeString(labels[i]))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// bars draws horizontal bars for named counts.
func bars(title string, items []socbot.Count, color string) template.HTML {
	const w, rowH, left = 640.0, 22.0, 220.0
	h := rowH*float64(len(items)) + 8
	if len(items) == 0 {
		h = 30
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`, w, h, html.EscapeString(title))
	if len(items) == 0 {
		b.WriteString(`<text x="0" y="20" font-size="12" fill="#555">none in this period</text></svg>`)
		return template.HTML(b.String())
	}
	var maxV int64
	for _, c := range items {
		maxV = max(maxV, c.N)
	}
	maxV = max(maxV, 1)
	for i, c := range items {
		y := 4 + float64(i)*rowH
		name := c.Name
		if r := []rune(name); len(r) > 34 {
			name = string(r[:33]) + "…"
		}
		bw := (w - left - 60) * float64(c.N) / float64(maxV)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" font-size="11" text-anchor="end" fill="#222">%s</text>`, left-6, y+14, html.EscapeString(name))
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.1f" width="%.1f" height="%.0f" fill="%s"/>`, left, y+3, bw, rowH-6, color)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="11" fill="#222">%s</text>`, left+bw+4, y+14, num(c.N))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// lines draws one or two series over the same x labels (the weekly posture).
func lines(title string, labels []string, series [][]int64, colors []string, names []string) template.HTML {
	const w, h, left, bottom, top = 640.0, 200.0, 48.0, 24.0, 20.0
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`, w, h, html.EscapeString(title))
	var maxV int64
	for _, s := range series {
		for _, v := range s {
			maxV = max(maxV, v)
		}
	}
	top1 := niceMax(maxV)
	plotH := h - bottom - top
	for i := 0; i <= 4; i++ {
		y := top + plotH - plotH*float64(i)/4
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#ddd" stroke-width="1"/>`, left, y, w, y)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" font-size="10" text-anchor="end" fill="#555">%s</text>`, left-4, y+3, num(top1*int64(i)/4))
	}
	n := len(labels)
	x := func(i int) float64 {
		if n <= 1 {
			return left + (w-left)/2
		}
		return left + 10 + float64(i)*(w-left-20)/float64(n-1)
	}
	for si, s := range series {
		var pts []string
		for i, v := range s {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), top+plotH-plotH*float64(v)/float64(top1)))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, colors[si], strings.Join(pts, " "))
		for i, v := range s {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s %s: %s</title></circle>`, x(i), top+plotH-plotH*float64(v)/float64(top1),
				colors[si], html.EscapeString(names[si]), html.EscapeString(labels[i]), num(v))
		}
		fmt.Fprintf(&b, `<rect x="%.0f" y="2" width="10" height="10" fill="%s"/><text x="%.0f" y="11" font-size="11" fill="#222">%s</text>`,
			left+float64(si)*180, colors[si], left+float64(si)*180+14, html.EscapeString(names[si]))
	}
	for i, l := range labels {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" font-size="10" text-anchor="middle" fill="#555">%s</text>`, x(i), h-8, html.EscapeString(l))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
