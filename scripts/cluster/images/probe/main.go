// probe checks the cluster's network from inside a pod, with nothing but
// itself in its image.
//
//	probe serve ADDR                 answer every HTTP request with 200 "ok <hostname>"
//	probe check [-resolve NAME]... [-get URL]... [-timeout DURATION]
//	                                 resolve each NAME and GET each URL (expecting 2xx),
//	                                 retrying until all pass or the timeout; exit 1 otherwise
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: probe serve ADDR | probe check [-resolve NAME]... [-get URL]... [-timeout D]")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "serve":
		addr := ":8080"
		if len(os.Args) > 2 {
			addr = os.Args[2]
		}
		serve(addr)
	case "check":
		os.Exit(check(os.Args[2:]))
	default:
		fmt.Fprintf(os.Stderr, "probe: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
}

func serve(addr string) {
	host, _ := os.Hostname()
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "ok %s\n", host)
	})
	fmt.Fprintf(os.Stderr, "probe: serving on %s\n", addr)
	if err := http.ListenAndServe(addr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		os.Exit(1)
	}
}

func check(args []string) int {
	var names, urls list
	fs := flag.NewFlagSet("check", flag.ExitOnError)
	fs.Var(&names, "resolve", "a name to resolve (repeatable)")
	fs.Var(&urls, "get", "a URL to GET, expecting 2xx (repeatable)")
	timeout := fs.Duration("timeout", 60*time.Second, "how long to keep retrying")
	_ = fs.Parse(args)
	deadline := time.Now().Add(*timeout)
	for attempt := 1; ; attempt++ {
		var report []string
		failures := 0
		for _, name := range names {
			line, err := resolve(name)
			if err != nil {
				line = fmt.Sprintf("resolve %s: %v", name, err)
				failures++
			}
			report = append(report, line)
		}
		for _, url := range urls {
			line, err := get(url)
			if err != nil {
				line = fmt.Sprintf("get %s: %v", url, err)
				failures++
			}
			report = append(report, line)
		}
		last := time.Now().After(deadline)
		if failures > 0 && !last {
			// Not yet: the Service may not be programmed, the DNS server not ready.
			fmt.Printf("probe: attempt %d: %d of %d checks failing, retrying\n", attempt, failures, len(report))
			time.Sleep(2 * time.Second)
			continue
		}
		for _, line := range report {
			fmt.Println(line)
		}
		if failures == 0 {
			fmt.Printf("probe: all %d checks passed (attempt %d)\n", len(report), attempt)
			return 0
		}
		fmt.Printf("probe: %d checks failing after %d attempts\n", failures, attempt)
		return 1
	}
}

func resolve(name string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, name)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("resolve %s: %s", name, strings.Join(addrs, " ")), nil
}

func get(url string) (string, error) {
	// A new connection (and name lookup) for every attempt.
	client := http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return "", fmt.Errorf("status %d", resp.StatusCode)
	}
	return fmt.Sprintf("get %s: %d %s", url, resp.StatusCode, strings.TrimSpace(string(body))), nil
}
