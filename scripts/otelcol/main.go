// otelcol-todo: an OpenTelemetry Collector with the core components the
// todo-app pipeline uses (charts/observability/files/collector.yaml): the OTLP
// receiver, the memory limiter and batch processors, the OTLP (gRPC) and OTLP
// over HTTP exporters, and the debug exporter. No contrib component is needed:
// Prometheus, Loki, Jaeger and Tempo all accept OTLP.
//
// Built and cached by scripts/tools.sh; the tests run its `validate` command
// on the pipeline config the chart renders.
package main

import (
	"log"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/confmap/provider/yamlprovider"
	"go.opentelemetry.io/collector/otelcol"
)

// The collector release of every module in go.mod (set by -ldflags).
var version = "dev"

func main() {
	settings := otelcol.CollectorSettings{
		BuildInfo: component.BuildInfo{
			Command:     "otelcol-todo",
			Description: "OpenTelemetry Collector for todo-app (core components)",
			Version:     version,
		},
		Factories: components,
		ConfigProviderSettings: otelcol.ConfigProviderSettings{
			ResolverSettings: confmap.ResolverSettings{
				ProviderFactories: []confmap.ProviderFactory{
					envprovider.NewFactory(),
					fileprovider.NewFactory(),
					yamlprovider.NewFactory(),
				},
			},
		},
	}
	if err := otelcol.NewCommand(settings).Execute(); err != nil {
		log.Fatal(err)
	}
}
