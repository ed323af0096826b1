;;; smoke.el --- Emacs + eglot + fuse-ls smoke test (batch mode)  -*- lexical-binding: t; -*-
;; Env: FUSE_TEST_OUT (JSON report), FUSE_TEST_PYTHON, FUSE_TEST_EMACS_DIR (editors/emacs),
;;      FUSE_TEST_WORKSPACE (with sample.py).
(require (quote package))
(dolist (d (quote ("/usr/share/emacs/site-lisp/elpa")))
  (when (file-directory-p d) (add-to-list (quote package-directory-list) d)))
(package-initialize)                    ; Debian's elpa-eglot lives in site-lisp/elpa
(require 'json)
(add-to-list 'load-path (getenv "FUSE_TEST_EMACS_DIR"))
(require 'fuse-ls)

(defvar smoke-report (list (cons "emacs" emacs-version)
                           (cons "eglot" (if (boundp 'eglot-version) eglot-version "?"))))
(defun smoke-put (k v) (push (cons k v) smoke-report))
(defun smoke-finish (code)
  (with-temp-file (getenv "FUSE_TEST_OUT")
    (insert (json-encode smoke-report)))
  (ignore-errors (eglot-shutdown (eglot-current-server)))
  (kill-emacs code))
(defun smoke-wait (secs pred)
  (let ((deadline (+ (float-time) secs)))
    (while (and (not (funcall pred)) (< (float-time) deadline))
      (accept-process-output nil 0.05))
    (funcall pred)))

(condition-case err
    (progn
      (setq fuse-ls-command (list (getenv "FUSE_TEST_PYTHON") "-m" "fuse_ls" "serve")
            fuse-ls-modes '(python-mode)
            fuse-ls-settings '(:pool ["emu/alpha" "emu/beta" "emu/gamma"] :judge "emu/judge"
                               :telemetry (:enabled :json-false))
            eglot-workspace-configuration `(:fuseLs ,fuse-ls-settings)
            eglot-sync-connect 30)
      (fuse-ls-register)
      (find-file (expand-file-name "sample.py" (getenv "FUSE_TEST_WORKSPACE")))
      (python-mode)
      (call-interactively (function eglot))
      (unless (smoke-wait 30 (lambda () (eglot-current-server)))
        (error "eglot did not connect to fuse-ls"))
      (let* ((server (eglot-current-server))
             (range (list :start (list :line 3 :character 0) :end (list :line 5 :character 16)))
             (actions (jsonrpc-request server :textDocument/codeAction
                                       (list :textDocument (eglot--TextDocumentIdentifier)
                                             :range range
                                             :context (list :diagnostics []))))
             (titles (mapcar (lambda (a) (plist-get a :title)) actions)))
        (smoke-put "server" (plist-get (eglot--server-info server) :name))
        (smoke-put "actions" (vconcat titles))
        ;; A review through the package's command; diagnostics reach flymake.
        (goto-char (point-min)) (forward-line 3) (push-mark (point) t t)
        (forward-line 3)
        (fuse-ls-review (region-beginning) (region-end))
        (smoke-wait 30 (lambda ()
                         (cl-some (lambda (d) (string-match-p "models" (flymake-diagnostic-text d)))
                                  (flymake-diagnostics))))
        (smoke-put "diagnostics" (vconcat (mapcar #'flymake-diagnostic-text (flymake-diagnostics)))))
      (smoke-finish 0))
  (error (smoke-put "error" (format "%S" err)) (smoke-finish 1)))
