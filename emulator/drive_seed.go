package emulator

import (
	"fmt"
	"strings"
	"time"
)

// Demo drive facts (stable; tests rely on them).
const (
	// DemoDriveLargeFileName is the name of the demo drive's large video,
	// in the Videos folder.
	DemoDriveLargeFileName = "Keynote recording.mp4"
	// DemoDriveLargeFileSize is its size (256 MiB).
	DemoDriveLargeFileSize = 256 << 20
	// DemoDriveAlphaFiles is the number of files in Projects/Alpha, more
	// than one children page (200).
	DemoDriveAlphaFiles = 250
	// DemoDriveHTMLName is a root file holding HTML with a script.
	DemoDriveHTMLName = "index.html"
	// DemoDriveHTML is its content.
	DemoDriveHTML = "<!doctype html><html><head><title>Status page</title></head><body><h1>Status</h1><script>document.title='script ran'</script></body></html>\n"
	// DemoSharedFolderName is the folder the shared mailbox's (personal)
	// drive shares with Adele; her drive lists it as a remoteItem.
	DemoSharedFolderName = "Team Photos"
)

// driveSeeder builds a drive tree with deterministic times.
type driveSeeder struct {
	d    *drive
	step int
}

func (s *driveSeeder) at() time.Time {
	s.step++
	return seedEpoch.Add(-time.Duration(300*24-s.step*7) * time.Hour)
}

func (s *driveSeeder) folder(parent *driveItem, name string) *driveItem {
	it := &driveItem{name: name, isFolder: true, created: s.at()}
	s.d.addItem(parent, it, it.created)
	return it
}

func (s *driveSeeder) file(parent *driveItem, name string, size int64) *driveItem {
	it := &driveItem{name: name, size: size, mimeType: mimeByName(name), created: s.at()}
	s.d.addItem(parent, it, it.created)
	return it
}

func (s *driveSeeder) text(parent *driveItem, name, content string) *driveItem {
	it := &driveItem{name: name, size: int64(len(content)), literal: []byte(content), mimeType: mimeByName(name), created: s.at()}
	s.d.addItem(parent, it, it.created)
	return it
}

// seedDemoDrive gives d the demo tree: names with quotes, '#', '%', '+',
// '?' and non-ASCII text, a folder of more than one children page, an
// empty folder, a OneNote package, an HTML file and two large videos.
func seedDemoDrive(d *drive) {
	s := &driveSeeder{d: d}
	root := d.root
	docs := s.folder(root, "Documents")
	reports := s.folder(docs, "Reports")
	for q := 1; q <= 4; q++ {
		s.file(reports, fmt.Sprintf("Q%d report.docx", q), int64(18000+q*1500))
	}
	s.file(reports, "Annual report 2025.pdf", 2<<20)
	s.file(docs, "Budget 2026.xlsx", 48213)
	s.file(docs, "O'Brien contract.pdf", 120443)
	s.text(docs, "Notes #1.txt", "Call Priya about the #1 item.\n")
	s.text(docs, "100% plan.md", "# 100% plan\n\n- ship\n- celebrate\n")
	s.file(docs, "Résumé – Zoë.pdf", 80211)
	s.text(docs, "a+b=c.txt", "a+b=c\n")
	s.text(docs, "Q&A; notes, v2.txt", "Questions & answers.\n")
	s.text(docs, "{draft} ~v3 =final.txt", "Draft.\n")
	photos := s.folder(root, "Photos")
	vacation := s.folder(photos, "Vacation 2026")
	for i := 1; i <= 40; i++ {
		s.file(vacation, fmt.Sprintf("IMG_%04d.jpg", i), int64(1800000+i*7919))
	}
	s.file(photos, "Team photo.png", 734003)
	projects := s.folder(root, "Projects")
	alpha := s.folder(projects, "Alpha")
	for i := 1; i <= DemoDriveAlphaFiles; i++ {
		s.text(alpha, fmt.Sprintf("spec-%03d.md", i), fmt.Sprintf("# Spec %d\n\nDraft.\n", i))
	}
	s.folder(projects, "Beta")
	videos := s.folder(root, "Videos")
	s.file(videos, DemoDriveLargeFileName, DemoDriveLargeFileSize)
	s.file(videos, "Product demo.mp4", 300<<20)
	nb := &driveItem{name: "Notebook", isFolder: true, pkg: "oneNote", created: s.at()}
	d.addItem(root, nb, nb.created)
	s.text(root, DemoDriveHTMLName, DemoDriveHTML)
	s.text(root, "readme.txt", "Welcome to your OneDrive.\n")
}

// seedSmallDrive gives d a few folders and files.
func seedSmallDrive(d *drive, label string) {
	s := &driveSeeder{d: d}
	docs := s.folder(d.root, "Documents")
	s.file(docs, "Cover letter.docx", 23456)
	s.file(docs, "Budget.xlsx", 34567)
	pics := s.folder(d.root, "Pictures")
	for i := 1; i <= 10; i++ {
		s.file(pics, fmt.Sprintf("%s %02d.jpg", label, i), int64(900000+i*1013))
	}
	s.text(d.root, "readme.txt", "Welcome to "+label+"'s OneDrive.\n")
}

// seedSharedFolder makes a folder in owner's drive shared with the
// recipient and lists it in the recipient's personal drive as a
// remoteItem entry. Both mailboxes are owned exclusively by the caller.
func seedSharedFolder(owner, recipient *mailbox) {
	s := &driveSeeder{d: owner.drive}
	f := s.folder(owner.drive.root, DemoSharedFolderName)
	for i := 1; i <= 5; i++ {
		s.file(f, fmt.Sprintf("team-%d.jpg", i), int64(1200000+i*313))
	}
	f.sharedWith = map[string]bool{strings.ToLower(recipient.upn): true}
	private := s.folder(owner.drive.root, "Private")
	s.file(private, "salaries.xlsx", 40000)
	addRemoteEntry(recipient.drive, owner.drive, f, s.at())
}

// addRemoteEntry lists folder f of drive src in d (a personal drive) as a
// remoteItem. Caller holds d's mailbox lock (or owns it exclusively).
func addRemoteEntry(d, src *drive, f *driveItem, now time.Time) *driveItem {
	entry := &driveItem{name: f.name, isFolder: true, created: now,
		remote: &remoteRef{id: f.id, name: f.name, driveID: src.id, webURL: src.webURL(f), childCount: len(f.children)}}
	d.addItem(d.root, entry, now)
	return entry
}
