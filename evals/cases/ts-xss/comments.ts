interface Comment {
  author: string;
  body: string;
}

export function renderComment(list: HTMLElement, comment: Comment): void {
  const item = document.createElement("li");
  item.innerHTML = `<b>${comment.author}</b>: ${comment.body}`;
  list.appendChild(item);
}
