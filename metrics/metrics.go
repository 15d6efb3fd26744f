// Package metrics exposes socbot's Prometheus metrics: ingest rate, bus and incident queue depths,
// the triage latency histogram (ingest to committed incident), triage outcomes and notification
// deliveries and failures.
package metrics

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	socbot "github.com/socbot/socbot"
)

// Metrics holds socbot's collectors on their own registry.
type Metrics struct {
	Registry       *prometheus.Registry
	IngestAlerts   *prometheus.CounterVec // result: accepted, rejected
	IngestRequests *prometheus.CounterVec // code
	TriageLatency  prometheus.Histogram
	TriageAlerts   *prometheus.CounterVec // status: open, duplicate, suppressed
	Notifications  *prometheus.CounterVec // channel kind, result: sent, retry, failed
	NotifyFailures prometheus.Counter
	HTTPDuration   *prometheus.HistogramVec // route, method
}

// New creates the metrics and registers them with Go and process collectors.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		IngestAlerts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "socbot_ingest_alerts_total",
			Help: "Alerts received by ingest, by result (accepted, rejected)."}, []string{"result"}),
		IngestRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "socbot_ingest_requests_total",
			Help: "Ingest requests by HTTP status code."}, []string{"code"}),
		TriageLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "socbot_triage_latency_seconds",
			Help:    "Time from an alert's acceptance by ingest to its triage commit (incident visible).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}),
		TriageAlerts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "socbot_triage_alerts_total",
			Help: "Alerts triaged, by outcome status (open, duplicate, suppressed)."}, []string{"status"}),
		Notifications: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "socbot_notifications_total",
			Help: "Notification delivery attempts by channel kind and result (sent, retry, failed)."}, []string{"kind", "result"}),
		NotifyFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "socbot_notification_failures_total",
			Help: "Notification delivery attempts that failed (retried or given up)."}),
		HTTPDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "socbot_http_request_duration_seconds",
			Help: "HTTP request duration by route.", Buckets: prometheus.DefBuckets}, []string{"route", "method"}),
	}
	m.Registry.MustRegister(m.IngestAlerts, m.IngestRequests, m.TriageLatency, m.TriageAlerts, m.Notifications, m.NotifyFailures, m.HTTPDuration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// Triaged records committed alerts: their latency from acceptance and their outcome.
func (m *Metrics) Triaged(alerts []*socbot.Alert, committedAt time.Time) {
	for _, a := range alerts {
		m.TriageLatency.Observe(committedAt.Sub(a.ReceivedAt).Seconds())
		m.TriageAlerts.WithLabelValues(a.Status).Inc()
	}
}

// WatchBus reports the number of messages waiting on the bus as socbot_bus_pending_messages.
func (m *Metrics) WatchBus(pending func(context.Context) (uint64, error)) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "socbot_bus_pending_messages",
		Help: "Alert messages accepted by ingest and not yet triaged."}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := pending(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	}))
}

// WatchQueues reports open incidents per queue and priority, and SLA breaches, read at scrape time.
func (m *Metrics) WatchQueues(stats func(ctx context.Context, now time.Time) ([]socbot.QueueStats, error)) {
	m.Registry.MustRegister(&queueCollector{stats: stats})
}

var (
	openDesc     = prometheus.NewDesc("socbot_incidents_open", "Open incidents by queue and priority.", []string{"queue", "priority"}, nil)
	breachedDesc = prometheus.NewDesc("socbot_incidents_sla_breached", "Open incidents past an SLA deadline, by queue.", []string{"queue"}, nil)
)

type queueCollector struct {
	stats func(ctx context.Context, now time.Time) ([]socbot.QueueStats, error)
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- openDesc
	ch <- breachedDesc
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stats, err := c.stats(ctx, time.Now())
	if err != nil {
		return
	}
	for _, q := range stats {
		for p, n := range q.ByPriority {
			ch <- prometheus.MustNewConstMetric(openDesc, prometheus.GaugeValue, float64(n), q.Queue, p)
		}
		ch <- prometheus.MustNewConstMetric(breachedDesc, prometheus.GaugeValue, float64(q.Breached), q.Queue)
	}
}
