package slo

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestDump(t *testing.T) {
	files, _ := filepath.Glob("testdata/bad/*.yaml")
	for _, f := range files {
		b, _ := os.ReadFile(f)
		objs, ds := Read(f, b)
		fmt.Println("==", f, len(objs))
		for _, d := range ds {
			fmt.Printf("   %d:%d: %s: %s | %s\n", d.Subject.Start.Line, d.Subject.Start.Column, d.Severity, d.Summary, d.Detail)
		}
	}
}
