;;; fuse-ls.el --- fuse-ls (multi-model consensus) with eglot  -*- lexical-binding: t; -*-

;; Version: 0.1.0
;; Package-Requires: ((emacs "28.1") (eglot "1.9"))
;; Keywords: tools, languages
;; URL: https://github.com/fuse-ls/fuse-ls

;;; Commentary:

;; Registers the fuse-ls language server with eglot and adds commands that
;; run its fusions on the region (or the whole buffer):
;;
;;   M-x fuse-ls-review    fused review: diagnostics with "(2/3 models)" in flymake
;;   M-x fuse-ls-explain   explanation with consensus, in a Markdown buffer
;;   M-x fuse-ls-fix       fused fix, applied through workspace/applyEdit
;;   M-x fuse-ls-cancel    cancel this buffer's fusions (C-u: all)
;;   M-x fuse-ls-stats     session statistics per model
;;
;; The same actions are in `eglot-code-actions' for a region.
;; Requests are asynchronous: Emacs stays responsive while models answer.
;;
;; eglot runs one server per major mode, so fuse-ls replaces the mode's usual
;; server in the modes listed in `fuse-ls-modes'.  See README.md for lsp-mode,
;; which can run fuse-ls next to another server.

;;; Code:

(require 'eglot)
(require 'jsonrpc)
(require 'subr-x)

(defgroup fuse-ls nil
  "Multi-model consensus language server."
  :group 'tools
  :prefix "fuse-ls-")

(defcustom fuse-ls-command '("fuse-ls" "serve")
  "Command line that starts the fuse-ls server (stdio)."
  :type '(repeat string))

(defcustom fuse-ls-modes '(text-mode markdown-mode conf-mode sh-mode)
  "Major modes in which eglot should start fuse-ls.
Add e.g. `python-mode' if you want fuse-ls instead of another server there."
  :type '(repeat symbol))

(defcustom fuse-ls-settings nil
  "The fuseLs settings (a plist), sent as initializationOptions.
For example: (:mode \"merge\" :judge \"openai/gpt-5-mini\").
Also set `eglot-workspace-configuration' to (:fuseLs ...) for live changes."
  :type 'plist)

(defcustom fuse-ls-request-timeout 600
  "Seconds to wait for a fusion to finish."
  :type 'integer)

(defun fuse-ls--contact (&optional _interactive)
  "The eglot contact for fuse-ls."
  (append fuse-ls-command
          (when fuse-ls-settings
            (list :initializationOptions (list :fuseLs fuse-ls-settings)))))

;;;###autoload
(defun fuse-ls-register ()
  "Add fuse-ls to `eglot-server-programs' for `fuse-ls-modes'."
  (add-to-list 'eglot-server-programs (cons fuse-ls-modes #'fuse-ls--contact)))

(defun fuse-ls--server ()
  (or (eglot-current-server)
      (user-error "fuse-ls: no eglot server in this buffer (M-x eglot)")))

(defun fuse-ls--args (&optional beg end)
  "The command argument for the region BEG..END, or the whole buffer."
  (let ((args (list :uri (plist-get (eglot--TextDocumentIdentifier) :uri))))
    (if (and beg end (/= beg end))
        (append args (list :range (list :start (eglot--pos-to-lsp-position beg)
                                        :end (eglot--pos-to-lsp-position end))))
      args)))

(defun fuse-ls--region ()
  (if (use-region-p) (list (region-beginning) (region-end)) (list nil nil)))

(defun fuse-ls-execute (command args &optional on-result)
  "Run fuse-ls COMMAND with ARGS asynchronously; call ON-RESULT with the result."
  (let ((server (fuse-ls--server)))
    (jsonrpc-async-request
     server :workspace/executeCommand
     (list :command command :arguments (vector args))
     :timeout fuse-ls-request-timeout
     :success-fn (lambda (result) (when on-result (funcall on-result result)))
     :error-fn (lambda (err)
                 (message "fuse-ls: %s failed: %s" command
                          (or (plist-get err :message) err))))))

(defun fuse-ls--show-markdown (markdown)
  (let ((buf (get-buffer-create "*fuse-ls explanation*")))
    (with-current-buffer buf
      (let ((inhibit-read-only t))
        (erase-buffer)
        (insert markdown)
        (goto-char (point-min)))
      (if (fboundp 'markdown-mode) (markdown-mode) (text-mode))
      (setq buffer-read-only t))
    (display-buffer buf)
    buf))

;;;###autoload
(defun fuse-ls-review (&optional beg end)
  "Fused review of the region BEG..END (or the buffer)."
  (interactive (fuse-ls--region))
  (fuse-ls-execute "fuse-ls.review" (fuse-ls--args beg end)
                   (lambda (r)
                     (message "fuse-ls: review %s: %d finding(s)"
                              (if (eq (plist-get r :cancelled) t) "cancelled" "finished")
                              (length (plist-get r :findings))))))

;;;###autoload
(defun fuse-ls-explain (&optional beg end)
  "Explain the region BEG..END (or the buffer) with consensus."
  (interactive (fuse-ls--region))
  (fuse-ls-execute "fuse-ls.explain" (fuse-ls--args beg end)
                   (lambda (r)
                     (if (eq (plist-get r :cancelled) t)
                         (message "fuse-ls: cancelled")
                       (fuse-ls--show-markdown (or (plist-get r :markdown) ""))))))

;;;###autoload
(defun fuse-ls-fix (&optional beg end)
  "Fused fix of the region BEG..END (or the buffer).
The edit arrives through workspace/applyEdit; eglot asks first when
`eglot-confirm-server-initiated-edits' is `confirm'."
  (interactive (fuse-ls--region))
  (fuse-ls-execute "fuse-ls.fix" (fuse-ls--args beg end)
                   (lambda (r)
                     (message "fuse-ls: fused fix %s"
                              (if (eq (plist-get r :applied) t) "applied" "not applied")))))

;;;###autoload
(defun fuse-ls-review-changes (&optional scope)
  "Fused review of the workspace's git change: uncommitted work by default.
With a prefix argument, ask for SCOPE: uncommitted, staged, or diff (the branch
since the default branch).  Findings reach flymake in every changed file that is
open; the message says what was reviewed and how many findings there are."
  (interactive
   (list (if current-prefix-arg
             (completing-read "Review changes: " '("uncommitted" "staged" "diff") nil t)
           "uncommitted")))
  (fuse-ls-execute "fuse-ls.reviewChanges" (list :scope (or scope "uncommitted"))
                   (lambda (r)
                     (message "fuse-ls: %s: %s unit(s), %d finding(s)%s"
                              (or (plist-get r :description) (plist-get r :error) "review")
                              (or (plist-get r :units) 0)
                              (length (plist-get r :findings))
                              (if (eq (plist-get r :cancelled) t) " (cancelled)" "")))))

;;;###autoload
(defun fuse-ls-cancel (&optional all)
  "Cancel the fusions of this buffer; with prefix argument ALL, every fusion."
  (interactive "P")
  (fuse-ls-execute "fuse-ls.cancel"
                   (if all (make-hash-table) (fuse-ls--args))
                   (lambda (r) (message "fuse-ls: cancelled %s fusion(s)"
                                        (plist-get r :cancelled)))))

;;;###autoload
(defun fuse-ls-stats ()
  "Show the session statistics of the fuse-ls server."
  (interactive)
  (fuse-ls-execute "fuse-ls.stats" (make-hash-table)
                   (lambda (r)
                     (message "fuse-ls: %s fusion(s), $%.4f"
                              (plist-get r :fusions) (or (plist-get r :costUsd) 0)))))

(provide 'fuse-ls)
;;; fuse-ls.el ends here
