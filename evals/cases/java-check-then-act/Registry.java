import java.util.HashMap;
import java.util.Map;

public class Registry {
    private final Map<String, Integer> ids = new HashMap<>();
    private int next = 0;

    // Called concurrently by request threads.
    public int idFor(String name) {
        if (!ids.containsKey(name)) {
            ids.put(name, next++);
        }
        return ids.get(name);
    }
}
