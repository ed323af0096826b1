;;; review_changes.el --- fuse-ls-review-changes in Emacs + eglot (batch mode)  -*- lexical-binding: t; -*-
;; Env: FUSE_TEST_OUT (JSON report), FUSE_TEST_PYTHON, FUSE_TEST_EMACS_DIR (editors/emacs),
;;      FUSE_TEST_WORKSPACE (a git repository whose sample.py has uncommitted work).
(require (quote package))
(dolist (d (quote ("/usr/share/emacs/site-lisp/elpa")))
  (when (file-directory-p d) (add-to-list (quote package-directory-list) d)))
(package-initialize)                    ; Debian's elpa-eglot lives in site-lisp/elpa
(require 'json)
(require 'cl-lib)
(add-to-list 'load-path (getenv "FUSE_TEST_EMACS_DIR"))
(require 'fuse-ls)

(defvar test-report nil)
(defvar test-messages nil)
(defun test-put (k v) (push (cons k v) test-report))
(defun test-finish (code)
  (test-put "messages" (vconcat (reverse test-messages)))
  (with-temp-file (getenv "FUSE_TEST_OUT")
    (insert (json-encode test-report)))
  (ignore-errors (eglot-shutdown (eglot-current-server)))
  (kill-emacs code))
(defun test-wait (secs pred)
  (let ((deadline (+ (float-time) secs)))
    (while (and (not (funcall pred)) (< (float-time) deadline))
      (accept-process-output nil 0.05))
    (funcall pred)))
(advice-add 'message :around
            (lambda (orig fmt &rest args)
              (let ((text (apply orig fmt args)))
                (when (and text (string-prefix-p "fuse-ls:" text)) (push text test-messages))
                text)))

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
      (unless (test-wait 30 (lambda () (eglot-current-server)))
        (error "eglot did not connect to fuse-ls"))
      (fuse-ls-review-changes)
      (test-wait 60 (lambda () (cl-some (lambda (m) (string-match-p "finding" m)) test-messages)))
      (test-wait 10 (lambda ()
                      (cl-some (lambda (d) (string-match-p "models" (flymake-diagnostic-text d)))
                               (flymake-diagnostics))))
      (test-put "diagnostics"
                (vconcat (mapcar (lambda (d) (list (line-number-at-pos (flymake-diagnostic-beg d))
                                                   (flymake-diagnostic-text d)))
                                 (flymake-diagnostics))))
      (test-finish 0))
  (error (test-put "error" (format "%S" err)) (test-finish 1)))
